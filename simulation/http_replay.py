"""The simulator's four system calls over the API, with `as_of`: a replay as an outside evaluator runs it.

A service token with `tracking.act_for_any_user`, `ops.replay_as_of` and `markets.change_market`
asks for each user's feed (`GET /api/feed`), sends the events (`POST /api/track`,
`/api/impressions`), pushes market moves (`PATCH /api/markets/{id}`) and runs the beat's tasks
(`POST /api/ops/periodic-tasks/run`), each at the simulated time. The catalog and the feed
config are loaded beforehand, as for any arm (`simulation.catalog.catalog_write`, the strategy's
`prepare`). Only the real feed can be asked for: a config arm (docs/replay.md).
"""
import json
import urllib.error
import urllib.request
from urllib.parse import quote, urlencode

from ingestion.services import IMPRESSION
from simulation.strategies import CONFIG
from simulation.transport import BEAT_TASKS, INGEST_DEFAULTS


class ReplayError(RuntimeError):
    """The API refused a call: its status and body, for the run to stop on."""


class HttpReplay:
    """Calls a server at `base_url`, or a Django test `client` in this process, with the service `token`."""

    def __init__(self, *, token, base_url=None, client=None):
        if (base_url is None) == (client is None):
            raise ValueError("Give a base_url or a client, not both.")
        self.token, self.base_url, self.client = token, (base_url or "").rstrip("/"), client
        self.requests = 0

    # --- the four calls -----------------------------------------------------------------------
    def feed(self, *, strategy, world, user_index, now, feed_request_id, limit, **_):
        if strategy.kind != CONFIG:
            raise ValueError(f"Over HTTP only the real feed can be asked for, not a {strategy.kind!r} arm.")
        user = world.users[user_index]
        query = {"user_key": user.key, "surface": "home", "limit": limit, "feed_request_id": feed_request_id}
        if user.country:
            query["country"] = user.country
        body = self._call("GET", "/api/feed", as_of=now, query=query)
        items = sorted((item for section in body["sections"].values() for item in section),
                       key=lambda item: item["position"])
        return [(world.index[item["market_id"]], item["pool"]) for item in items]

    def ingest(self, *, kind, raw_events, received_at):
        if kind == IMPRESSION:
            return self._call("POST", "/api/impressions", as_of=received_at,
                              body={"impressions": raw_events, **INGEST_DEFAULTS})
        # /api/track's envelope has no surface; an interaction's surface is home unless it names one.
        return self._call("POST", "/api/track", as_of=received_at, body={"events": raw_events})

    def market_update(self, *, market_id, changes, at):
        self._call("PATCH", f"/api/markets/{quote(market_id, safe='')}", as_of=at, body=changes)

    def beat(self, *, due, now):
        only = [task for name, task, _ in BEAT_TASKS if name in due]
        if not only:
            return
        report = self._call("POST", "/api/ops/periodic-tasks/run", body={"at": now.isoformat(), "only": only})
        failed = [task for task in report["tasks"] if task["outcome"] != "success"]
        if failed:
            raise ReplayError(f"periodic tasks at {now.isoformat()}: {failed}")

    # --- HTTP ---------------------------------------------------------------------------------
    def _call(self, method, path, *, as_of=None, query=None, body=None):
        query = dict(query or {})
        if as_of is not None:
            query["as_of"] = as_of.isoformat()
        url = f"{path}?{urlencode(query)}" if query else path
        data = b"" if body is None else json.dumps(body).encode()
        self.requests += 1
        status, payload = (self._test_client if self.client is not None else self._urllib)(method, url, data)
        if status != 200:
            raise ReplayError(f"{method} {path}: {status} {payload}")
        return payload

    def _test_client(self, method, url, data):
        response = self.client.generic(method, url, data, content_type="application/json",
                                       HTTP_AUTHORIZATION=f"Token {self.token}")
        return response.status_code, response.json()

    def _urllib(self, method, url, data):
        request = urllib.request.Request(
            self.base_url + url, data=data or None, method=method,
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json",
                     "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the evaluator's own URL
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")[:2000]
