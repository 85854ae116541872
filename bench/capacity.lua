-- wrk script for bench/capacity.py: a mix of feed requests and event batches from many
-- visitors, each request as one of the pre-signed anonymous users in users.txt.
local users, markets = {}, {}
local counts = {feed = 0, impressions = 0, track = 0}

local function lines(path)
  local out = {}
  for line in io.lines(path) do out[#out + 1] = line end
  return out
end

local function uuid4()
  local t = {}
  for i = 1, 16 do t[i] = math.random(0, 255) end
  t[7] = (t[7] % 16) + 64
  t[9] = (t[9] % 64) + 128
  local h = string.format(string.rep("%02x", 16), (table.unpack or unpack)(t))
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-" .. h:sub(13, 16) .. "-" .. h:sub(17, 20) .. "-" .. h:sub(21, 32)
end

local function now_iso()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

function setup(thread)
  thread:set("seed", math.random(1, 1e9))
end

function init(args)
  math.randomseed(seed or os.time())
  users = lines(os.getenv("CAPACITY_USERS"))
  markets = lines(os.getenv("CAPACITY_MARKETS"))
  feed_share = tonumber(os.getenv("CAPACITY_FEED_SHARE") or "0.4")
  impression_share = tonumber(os.getenv("CAPACITY_IMPRESSION_SHARE") or "0.4")
  baseline = os.getenv("CAPACITY_BASELINE") == "1"
end

local TYPES = {"click", "view_market", "bookmark", "participate", "scroll_past", "skip_fast", "share"}

function request()
  if baseline then
    -- The same-run baseline: the cheapest request through the same stack.
    return wrk.format("GET", "/healthz")
  end
  local user = users[math.random(#users)]
  local headers = {["X-User-Key"] = user, ["Content-Type"] = "application/json"}
  local r = math.random()
  if r < feed_share then
    return wrk.format("GET", "/api/feed?limit=20", headers)
  end
  local at = now_iso()
  local items = {}
  if r < feed_share + impression_share then
    for i = 1, 10 do
      items[i] = string.format('{"event_id":"%s","market_id":"%s","shown_at":"%s","section":"grid","position":%d}',
        uuid4(), markets[math.random(#markets)], at, i)
    end
    return wrk.format("POST", "/api/impressions", headers,
      '{"sent_at":"' .. at .. '","impressions":[' .. table.concat(items, ",") .. "]}")
  end
  for i = 1, 5 do
    items[i] = string.format('{"event_id":"%s","event_type":"%s","market_id":"%s","occurred_at":"%s"}',
      uuid4(), TYPES[math.random(#TYPES)], markets[math.random(#markets)], at)
  end
  return wrk.format("POST", "/api/track", headers, '{"sent_at":"' .. at .. '","events":[' .. table.concat(items, ",") .. "]}")
end

function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
    '"non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
