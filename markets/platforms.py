"""Readers for Kalshi, Manifold and PredictIt records: one record in, MarketRows (or a RowError) out.

Pure functions on top of markets/importers.py's helpers; the rows go through the same
`markets_import` as every other format. The mapping decisions are in docs/market-import.md.
"""
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import slugify

from feedproject.vocabulary import OTHER
from markets.importers import (
    CATEGORY_ALIASES,
    MARKET_ID_MAX,
    TITLE_MAX,
    MarketRow,
    RejectedRow,
    RowError,
    category_from_tags,
    category_from_title,
    category_of_label,
    clean_text,
    is_empty,
    parse_datetime_utc,
    parse_float,
    parse_or_reject,
    platform_event,
    platform_key,
    tags_from_labels,
    tags_from_pairs,
    valid_url,
)
from markets.models import Market

DAY = timedelta(hours=24)
OPEN, CLOSED, RESOLVED = Market.Status.OPEN, Market.Status.CLOSED, Market.Status.RESOLVED


def _title(value, *, name="title"):
    title = clean_text(value).strip()
    if not title:
        raise RowError(f"{name} is missing")
    if len(title) > TITLE_MAX:
        raise RowError(f"{name} is longer than {TITLE_MAX} characters")
    return title


def _outcome_title(title, outcome):
    """A multi-outcome market's title names its outcome when the platform's title is the question's."""
    outcome = clean_text(outcome).strip()
    if not outcome or outcome.lower() in title.lower():
        return title
    return f"{title} — {outcome}"[:TITLE_MAX]


def _volume(value, *, name):
    if is_empty(value):
        return 0.0
    return max(0.0, parse_float(value, name=name))


def _price(value, *, name, scale):
    """A quoted price as a probability (`scale` 100 for cents, 1 for dollars); None when there is none.

    0 counts as no price: these exchanges quote an open market from 1 cent to 99, and report 0
    for a contract that has not traded.
    """
    if is_empty(value):
        return None
    price = parse_float(value, name=name)
    if not 0.0 <= price <= scale:
        raise RowError(f"{name} {value!r} is outside 0..{scale:g}")
    return price / scale if price > 0 else None


def _midpoint(bid, ask):
    return (bid + ask) / 2 if bid is not None and ask is not None else None


def _first(*values):
    return next((v for v in values if v is not None), None)


# --- Kalshi (Trade API v2 GET /events?with_nested_markets=true, and its flattened CSV) ------------

KALSHI_STATUSES = {
    "initialized": OPEN, "unopened": OPEN, "active": OPEN, "open": OPEN,
    "inactive": CLOSED, "paused": CLOSED, "closed": CLOSED,
    "determined": RESOLVED, "settled": RESOLVED, "finalized": RESOLVED,
}


def _nested_parse(parse, records, *, where, key, noun, **kwargs):
    """`parse` over the records nested in a parent (`where key[i]`): a row, or a rejection, each."""
    rows = []
    for index, record in enumerate(records):
        record_where = f"{where} {key}[{index}]"
        if not isinstance(record, dict):
            rows.append(RejectedRow(record_where, "", f"{noun} is not an object"))
            continue
        rows.append(parse_or_reject(parse, record, where=record_where, **kwargs))
    return rows


def _kalshi_status(value):
    status = clean_text(value).strip().lower()
    if not status:
        return OPEN
    if status not in KALSHI_STATUSES:
        raise RowError(f"status {value!r} is not a Kalshi market status ({', '.join(KALSHI_STATUSES)})")
    return KALSHI_STATUSES[status]


def kalshi_market_build(
    *, where, market_key, title, outcome, status, result, prices, previous_day_price, volume, volume_24h,
    created_at, close_date, category, event, tags=None, aliases=CATEGORY_ALIASES,
):
    """The mapping shared by the events JSON and the CSV export. `prices` are probabilities, best first."""
    market_id = platform_key("kalshi", market_key)
    if market_id is None:
        raise RowError("market has no id or ticker")
    status = _kalshi_status(status)
    result = clean_text(result).strip().lower()
    if status == RESOLVED and result in ("yes", "no"):
        probability = 1.0 if result == "yes" else 0.0
    else:
        probability = _first(*prices)
    history = ()
    if probability is None:
        # The row's only price is the previous day's: it stands for now, and there is no move to record.
        probability, previous_day_price = previous_day_price, None
    if probability is None:
        raise RowError("no price: the last, yes/no and previous-day prices are all empty")
    fields = {
        "title": _outcome_title(_title(title), outcome),
        "probability": probability,
        "volume_total": _volume(volume, name="volume"),
        "status": status,
        "resolution_date": parse_datetime_utc(close_date, name="close_date"),
    }
    if previous_day_price is not None and status == OPEN:
        then = {"probability": previous_day_price}
        if not is_empty(volume_24h):
            fields["volume_24h"] = _volume(volume_24h, name="volume_24h")
            then["volume_total"] = max(0.0, fields["volume_total"] - fields["volume_24h"])
        history = ((DAY, then),)
    elif not is_empty(volume_24h):
        fields["volume_24h"] = _volume(volume_24h, name="volume_24h")
    created = parse_datetime_utc(created_at, name="created_time")
    if created is not None:
        fields["created_at"] = created
    category = category_of_label(category, aliases) or category_from_title(fields["title"]) or OTHER
    fields["category"] = category
    return MarketRow(where=where, market_id=market_id, fields=fields, tags=tags, event=event, history=history)


def kalshi_event_parse(event, *, where, aliases=CATEGORY_ALIASES):
    """A Kalshi event with its nested markets -> one MarketRow or RejectedRow per market."""
    markets = event.get("markets")
    if not isinstance(markets, list):
        return [RejectedRow(where, "", "event has no markets list (request it with with_nested_markets=true)")]
    event_ticker = event.get("event_ticker") or event.get("ticker")
    event_row = platform_event(
        "kalshi", event_id=event_ticker, title=event.get("title"), slug=event_ticker,
        series=event.get("series_ticker"),
    )
    raw_tags = event.get("tags")
    tags = None  # Kalshi's `tags` is null on most events: then the stored tags stay
    if isinstance(raw_tags, list):
        tags = tags_from_labels(t for t in raw_tags if isinstance(t, str) and t.strip())
    return _nested_parse(
        kalshi_market_parse, markets, where=where, key="markets", noun="market",
        event=event, event_row=event_row, tags=tags, aliases=aliases,
    )


def kalshi_market_parse(market, *, where, event, event_row, tags, aliases=CATEGORY_ALIASES):
    bid = _price(market.get("yes_bid"), name="yes_bid", scale=100)
    ask = _price(market.get("yes_ask"), name="yes_ask", scale=100)
    return kalshi_market_build(
        where=where,
        market_key=market.get("id") or market.get("ticker_name") or market.get("ticker"),
        title=market.get("title") or event.get("title"),
        outcome=(market.get("yes_sub_title") or market.get("name")) if len(event["markets"]) > 1 else "",
        status=market.get("status"),
        result=market.get("result"),
        prices=(
            _price(market.get("last_price"), name="last_price", scale=100),
            _price(market.get("last_price_dollars"), name="last_price_dollars", scale=1),
            _midpoint(bid, ask),
        ),
        # The Trade API's own names (previous_price, open_time) beside the ones of the published snapshots.
        previous_day_price=_first(
            _price(market.get("previous_day_price"), name="previous_day_price", scale=100),
            _price(market.get("previous_price"), name="previous_price", scale=100),
        ),
        volume=market.get("volume"),
        volume_24h=market.get("volume_24h"),
        created_at=(
            market.get("created_time") or market.get("create_date") or market.get("open_time")
            or market.get("open_date")
        ),
        close_date=market.get("close_time") or market.get("close_date"),
        category=event.get("category"),
        event=event_row,
        tags=tags,
        aliases=aliases,
    )


def kalshi_csv_row_parse(record, *, where, aliases=CATEGORY_ALIASES):
    """A row of the flattened Kalshi export (one market per row, prices in cents) -> MarketRow.

    Its event is `event_id`, or where that is blank (as in the export we have) the event title.
    """
    no_price = _price(record.get("no_price"), name="no_price", scale=100)
    event_title = record.get("event_title")
    return kalshi_market_build(
        where=where,
        market_key=record.get("market_id") or record.get("market_ticker"),
        title=record.get("market_title") or event_title,
        outcome="",
        status=record.get("status"),
        result=record.get("result"),
        prices=(
            _price(record.get("yes_price"), name="yes_price", scale=100),
            None if no_price is None else 1.0 - no_price,
        ),
        previous_day_price=_price(record.get("previous_day_price"), name="previous_day_price", scale=100),
        volume=record.get("volume"),
        volume_24h=record.get("volume_24h"),
        created_at=record.get("created_time"),
        close_date=record.get("close_date"),
        category=record.get("event_category"),
        event=platform_event(
            "kalshi", event_id=record.get("event_id") or slugify(clean_text(event_title)), title=event_title,
            slug=record.get("event_id"), series=record.get("series_ticker"), fallback_title=record.get("market_title"),
        ),
        aliases=aliases,
    )


# --- Manifold (GET /v0/markets) ---------------------------------------------------------------


def _epoch_ms(value, *, name):
    if is_empty(value):
        return None
    milliseconds = parse_float(value, name=name)
    try:
        return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise RowError(f"{name} {value!r} is not a time in epoch milliseconds") from None


def manifold_market_parse(market, *, where, aliases=CATEGORY_ALIASES):
    """A Manifold market -> MarketRow; only BINARY markets have the one probability a market card shows."""
    kind = clean_text(market.get("outcomeType")).strip()
    if kind != "BINARY":
        raise RowError(f"skipped: {f'a {kind}' if kind else 'an untyped'} market (only BINARY markets are imported)")
    slug = slugify(clean_text(market.get("slug")))
    market_id = f"manifold-{slug}"[:MARKET_ID_MAX].strip("-") if slug else platform_key("manifold", market.get("id"))
    if market_id is None:
        raise RowError("market has neither a slug nor an id")
    title = _title(market.get("question"), name="question")

    created = _epoch_ms(market.get("createdTime"), name="createdTime")
    closes = _epoch_ms(market.get("closeTime"), name="closeTime")
    updated = _epoch_ms(market.get("lastUpdatedTime"), name="lastUpdatedTime")
    resolution = clean_text(market.get("resolution")).strip().upper()
    if market.get("isResolved"):
        status = CLOSED if resolution == "CANCEL" else RESOLVED
    elif closes is not None and updated is not None and closes <= updated:
        status = CLOSED  # closed to trading when the record was written (no clock is read here)
    else:
        status = OPEN
    if status == RESOLVED and resolution in ("YES", "NO"):
        probability = 1.0 if resolution == "YES" else 0.0
    elif status == RESOLVED and not is_empty(market.get("resolutionProbability")):
        probability = parse_float(market["resolutionProbability"], name="resolutionProbability")
    elif not is_empty(market.get("probability")):
        probability = parse_float(market["probability"], name="probability")
    else:
        raise RowError("probability is missing")
    if not 0.0 <= probability <= 1.0:
        raise RowError(f"probability {probability!r} is outside 0..1")

    groups = market.get("groupSlugs")
    tags = None
    if isinstance(groups, list):  # the single-market endpoint has them; the list does not
        tags = tags_from_pairs((g, g) for g in groups if isinstance(g, str) and g.strip())
    category = (category_from_tags(slug for slug, _ in tags) if tags else OTHER)
    if category == OTHER:
        category = category_from_title(title) or OTHER
    fields = {
        "title": title,
        "category": category,
        "probability": probability,
        "volume_total": _volume(market.get("volume"), name="volume"),
        "volume_24h": _volume(market.get("volume24Hours"), name="volume24Hours"),
        "participant_count": int(_volume(market.get("uniqueBettorCount"), name="uniqueBettorCount")),
        "status": status,
        "resolution_date": closes,
    }
    if created is not None:
        fields["created_at"] = created
    if "textDescription" in market:
        fields["description"] = clean_text(market["textDescription"]).strip()
    image = clean_text(market.get("coverImageUrl")).strip()
    if image and valid_url(image):
        fields["image_url"] = image
    return MarketRow(where=where, market_id=market_id, fields=fields, tags=tags)


# --- PredictIt (GET /api/marketdata/all/) -------------------------------------------------------

PREDICTIT_TIME_ZONE = ZoneInfo("America/New_York")  # its times carry no offset; the exchange runs on US Eastern
PREDICTIT_CATEGORY = "Politics"  # a political exchange: the category when the title points nowhere else
PREDICTIT_STATUSES = {"open": OPEN, "closed": CLOSED}


def _predictit_time(value, *, name):
    text = clean_text(value).strip()
    if not text or text.upper() in ("NA", "N/A"):
        return None
    try:
        parsed = parse_datetime(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise RowError(f"{name} {text!r} is not an ISO-8601 date-time")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=PREDICTIT_TIME_ZONE)
    return parsed.astimezone(UTC)


def predictit_market_parse(market, *, where, aliases=CATEGORY_ALIASES):
    """A PredictIt market -> one MarketRow per contract (its yes/no outcomes), grouped as one event."""
    contracts = market.get("contracts")
    if not isinstance(contracts, list):
        return [RejectedRow(where, "", "market has no contracts list")]
    name = clean_text(market.get("name")).strip()
    url = clean_text(market.get("url")).strip()
    event = platform_event(
        "predictit", event_id=market.get("id"), title=name, slug=url.rstrip("/").rsplit("/", 1)[-1] if url else "",
    )
    return _nested_parse(
        predictit_contract_parse, contracts, where=where, key="contracts", noun="contract",
        market=market, event=event, aliases=aliases,
    )


def predictit_contract_parse(contract, *, where, market, event, aliases=CATEGORY_ALIASES):
    market_id = platform_key("predictit", contract.get("id"))
    if market_id is None:
        raise RowError("contract has no id")
    market_name = _title(market.get("name"), name="market name")
    contract_name = clean_text(contract.get("name")).strip()
    title = market_name if contract_name == market_name else _outcome_title(market_name, contract_name)
    status = clean_text(contract.get("status") or market.get("status")).strip().lower()
    if status not in PREDICTIT_STATUSES:
        raise RowError(f"status {contract.get('status')!r} is not Open or Closed")
    probability = _first(
        _price(contract.get("lastTradePrice"), name="lastTradePrice", scale=1),
        _midpoint(
            _price(contract.get("bestBuyYesCost"), name="bestBuyYesCost", scale=1),
            _price(contract.get("bestSellYesCost"), name="bestSellYesCost", scale=1),
        ),
    )
    if probability is None:
        raise RowError("no price: lastTradePrice and the best yes offers are empty")
    previous_close = _price(contract.get("lastClosePrice"), name="lastClosePrice", scale=1)
    image = next(
        (u for u in (clean_text(market.get("image")).strip(), clean_text(contract.get("image")).strip())
         if u and valid_url(u)),
        "",
    )
    fields = {
        "title": title,
        "category": category_from_title(market_name) or PREDICTIT_CATEGORY,
        "probability": probability,
        "status": PREDICTIT_STATUSES[status],
        "resolution_date": _predictit_time(contract.get("dateEnd"), name="dateEnd"),
        "image_url": image,
    }
    history = ((DAY, {"probability": previous_close}),) if previous_close is not None and status == "open" else ()
    return MarketRow(where=where, market_id=market_id, fields=fields, event=event, history=history)
