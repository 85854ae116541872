"""Market catalog import: parse the project's JSON/CSV format and Polymarket Gamma exports, upsert in bulk.

Parsing is pure (records in, `MarketRow` / `RejectedRow` out); `markets_import` is the one
service that writes. The format and the mapping decisions are in docs/market-import.md.
"""
import csv
import dataclasses
import gzip
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_slug
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import slugify

from feedproject.vocabulary import CATEGORIES, OTHER
from markets.models import STATE_FIELDS, Market, MarketSnapshot, Tag

# --- Categories -------------------------------------------------------------------------

# The taxonomy is the site's one list (feedproject/vocabulary.py); this maps sources onto it.

# Known spellings (lower-cased, stripped of spaces and trailing "-") -> readable category.
# Covers every legacy Polymarket category in the Gamma export.
CATEGORY_ALIASES = {
    **{name.lower(): name for name in CATEGORIES},
    "sport": "Sports",
    "nba playoffs": "Sports",
    "olympics": "Sports",
    "chess": "Sports",
    "poker": "Sports",
    "esports": "Sports",
    "us-current-affairs": "Politics",
    "us current affairs": "Politics",
    "elections": "Politics",
    "global politics": "World",
    "ukraine & russia": "World",
    "geopolitics": "World",
    "crypto": "Crypto",
    "nfts": "Crypto",
    "nft": "Crypto",
    "pop-culture": "Culture",
    "pop culture": "Culture",
    "art": "Culture",
    "entertainment": "Culture",
    "economy": "Business",
    "finance": "Business",
    "science": "Science & Tech",
    "tech": "Science & Tech",
    "technology": "Science & Tech",
    "science/tech": "Science & Tech",
    "space": "Science & Tech",
    "coronavirus": "Science & Tech",
    "covid": "Science & Tech",
    "climate": "Weather",
    "climate & weather": "Weather",
}

# Ordered: the first category with a matching tag wins, so a Trump-at-the-Super-Bowl market
# is Sports and a Trump-memecoin market is Politics. Matched on tag slugs.
CATEGORY_TAG_RULES = (
    ("Sports", frozenset({
        "sports", "games", "todays-sports", "nba", "nfl", "nhl", "mlb", "wnba", "soccer", "football",
        "basketball", "baseball", "hockey", "tennis", "golf", "cricket", "boxing", "boxingmma", "mma", "ufc",
        "chess", "poker", "esports", "cfb", "cfp", "ncaa", "college-football", "march-madness", "bowl-games",
        "epl", "premier-league", "champions-league", "europa-league", "uefa", "uefa-nations-league",
        "nations-league", "euro-2024", "copa-america", "carabao-cup", "la-liga", "serie-a", "bundesliga",
        "mls", "world-cup", "olympics", "olympics-today", "olympic-track", "olympic-boxing", "swimming",
        "formula1", "formula-1", "f1", "nascar", "racing", "horse-racing", "super-bowl", "nfl-draft",
        "fantasy-football", "hustler-casino", "poker-warning",
    })),
    ("Politics", frozenset({
        "politics", "us-politics", "uptspt-politics", "elections", "election", "us-election", "us-elections",
        "us-presidential-election", "presidential-election", "2024-election", "elections-2024",
        "global-elections", "world-elections", "uk-election", "french-election", "german-election",
        "trump", "donald-trump", "trump-presidency", "trump-cabinet", "trump-trials", "biden", "joe-biden",
        "kamala", "potus", "senate-elections", "house-races", "governor", "congress", "primaries",
        "polling", "presidential-debate", "debate", "dnc", "rnc", "swing-states", "gov-shutdown",
        "immigration", "executive-actions", "courts", "election-2024", "rfk-jr",
    })),
    ("World", frozenset({
        "geopolitics", "world", "world-affairs", "world-news", "international-relations", "foreign-policy",
        "middle-east", "israel", "gaza", "hamas", "hezbollah", "lebanon", "iran", "syria", "ukraine",
        "russia", "putin", "zelensky", "china", "taiwan", "north-korea", "india", "europe", "venezuela",
        "war", "military",
    })),
    ("Crypto", frozenset({
        "crypto", "crypto-prices", "cryptocurrency", "bitcoin", "btc", "ethereum", "eth", "solana", "sol",
        "xrp", "ripple", "memecoins", "airdrops", "airdrop", "nfts", "nft", "coinbase", "defi", "sbf",
    })),
    ("Culture", frozenset({
        "pop-culture", "culture", "entertainment", "music", "movies", "film", "film-tv", "box-office",
        "celebrities", "celebrity", "celebrity-news", "awards", "oscars", "emmys", "grammys", "twitter",
        "tweets-markets", "mention-markets", "social-media", "youtube", "tiktok", "creators",
        "internet-culture", "video-games", "taylor-swift",
    })),
    ("Business", frozenset({
        "business", "finance", "economy", "economics", "economic-policy", "stocks", "stock-market",
        "fed-rates", "inflation", "employment", "investment", "market-cap", "gme", "gamestop", "ipo",
        "earnings", "commodities", "boeing",
    })),
    ("Weather", frozenset({
        "weather", "global-temp", "hurricanes", "temperature", "daily-temperature", "snow", "rain",
        "climate", "global-warming",
    })),
    ("Science & Tech", frozenset({
        "science", "tech", "technology", "tech-news", "ai", "openai", "space", "spacex", "apple",
        "pandemics", "health", "coronavirus", "covid", "bird-flu", "monkeypox", "cybersecurity", "hacking",
        "crowdstrike",
    })),
)

# Gamma tags that describe the site's navigation, not a topic: dropped on import.
GENERIC_TAG_SLUGS = frozenset({
    "all", "featured", "breaking-news", "trending-markets", "recurring", "rewards",
    "predictions", "market-predictions", "future-events", "forecast",
})

TAG_SLUG_MAX = Tag._meta.get_field("slug").max_length
TAG_LABEL_MAX = Tag._meta.get_field("label").max_length
MARKET_ID_MAX = Market._meta.get_field("market_id").max_length
TITLE_MAX = Market._meta.get_field("title").max_length
CATEGORY_MAX = Market._meta.get_field("category").max_length
IMAGE_URL_MAX = Market._meta.get_field("image_url").max_length

# Every Market column an import may set. A row carries only the ones its source knows;
# the others keep their stored value (or the model default on create).
MARKET_FIELDS = (
    "title", "description", "category", "probability", "volume_24h", "volume_total",
    "participant_count", "image_url", "status", "created_at", "resolution_date",
    "event_start_at", "news_at", "editorial_description",
)
DATETIME_FIELDS = ("created_at", "resolution_date", "event_start_at", "news_at")
STATUSES = frozenset(Market.Status.values)


def category_normalize(value):
    """The readable category for a known spelling, else None."""
    key = (value or "").strip().strip("-").strip().lower()
    return CATEGORY_ALIASES.get(key)


def category_from_tags(tag_slugs):
    """The first category of CATEGORY_TAG_RULES that one of the tags points to, else "Other"."""
    slugs = set(tag_slugs)
    for category, rule_slugs in CATEGORY_TAG_RULES:
        if slugs & rule_slugs:
            return category
    return OTHER


# --- Rows ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarketRow:
    """One parsed market. `fields` holds only what the source carries; tags None = not carried."""

    where: str
    market_id: str
    fields: dict
    tags: tuple | None = None  # ((slug, label), ...)


@dataclass(frozen=True, slots=True)
class RejectedRow:
    where: str
    market_id: str
    reason: str


class RowError(ValueError):
    """A record that cannot become a market; the message is the reason shown to the operator."""


class ImportFileError(Exception):
    """A file that cannot be read at all (unknown format, broken JSON document)."""


def _text(value):
    # PostgreSQL text cannot hold NUL; strip it everywhere so both databases store the same.
    if value is None:
        return ""
    return str(value).replace("\x00", "")


def _is_empty(value):
    return value is None or (isinstance(value, str) and not value.strip())


def parse_float(value, *, name):
    if isinstance(value, bool):
        raise RowError(f"{name} {value!r} is not a number")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise RowError(f"{name} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise RowError(f"{name} {value!r} is not a finite number")
    return number


def parse_datetime_utc(value, *, name):
    """ISO-8601 datetime or date; UTC when it has no offset. Empty -> None."""
    if _is_empty(value):
        return None
    text = str(value).strip()
    try:
        parsed = parse_datetime(text)
        if parsed is None:
            day = parse_date(text)
            parsed = datetime(day.year, day.month, day.day) if day else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise RowError(f"{name} {text!r} is not an ISO-8601 date")
    if timezone.is_naive(parsed):
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def tags_from_labels(labels):
    """((slug, label), ...) from labels, de-duplicated by slug, generic labels dropped."""
    return tags_from_pairs((label, label) for label in labels)


def tags_from_pairs(pairs):
    tags = {}
    for raw_slug, raw_label in pairs:
        label = _text(raw_label).strip()[:TAG_LABEL_MAX]
        slug = slugify(_text(raw_slug) or label)[:TAG_SLUG_MAX].strip("-")
        if not slug or slug in GENERIC_TAG_SLUGS or slugify(label) in GENERIC_TAG_SLUGS:
            continue
        tags.setdefault(slug, label or slug)
    return tuple(tags.items())


_url_validator = URLValidator(schemes=["http", "https"])


def _valid_url(value):
    if len(value) > IMAGE_URL_MAX:
        return False
    try:
        _url_validator(value)
    except ValidationError:
        return False
    return True


# --- The project's own format ----------------------------------------------------------------


def _own_text(value, *, name, max_length=None):
    text = _text(value).strip()
    if max_length and len(text) > max_length:
        raise RowError(f"{name} is longer than {max_length} characters")
    return text


def _own_volume(value, *, name):
    if _is_empty(value):
        return 0.0
    number = parse_float(value, name=name)
    if number < 0:
        raise RowError(f"{name} {value!r} is negative")
    return number


def _own_count(value, *, name):
    if _is_empty(value):
        return 0
    number = parse_float(value, name=name)
    if number < 0 or number != int(number):
        raise RowError(f"{name} {value!r} is not a whole number >= 0")
    return int(number)


def own_record_parse(record, *, where, tags_separator=None):
    """A market of the project's format (a JSON object or a CSV row as a dict) -> MarketRow.

    Keys that are absent leave the stored value alone; empty values clear optional fields.
    `tags_separator` splits a CSV cell ("a|b"); JSON carries a list.
    """
    market_id = _text(record.get("market_id")).strip()
    if not market_id:
        raise RowError("market_id is missing")
    try:
        validate_slug(market_id)
        is_slug = len(market_id) <= MARKET_ID_MAX
    except ValidationError:
        is_slug = False
    if not is_slug:
        raise RowError(f"market_id {market_id!r} is not a slug of at most {MARKET_ID_MAX} characters")
    title = _own_text(record.get("title"), name="title", max_length=TITLE_MAX)
    if not title:
        raise RowError("title is missing")
    if _is_empty(record.get("probability")):
        raise RowError("probability is missing")
    probability = parse_float(record["probability"], name="probability")
    if not 0.0 <= probability <= 1.0:
        raise RowError(f"probability {record['probability']!r} is outside 0..1")

    fields = {"title": title, "probability": probability}
    if "description" in record:
        fields["description"] = _text(record["description"]).strip()
    if "editorial_description" in record:
        fields["editorial_description"] = _text(record["editorial_description"]).strip()
    if not _is_empty(record.get("category")):
        raw = _own_text(record["category"], name="category", max_length=CATEGORY_MAX)
        fields["category"] = category_normalize(raw) or raw
    for name in ("volume_24h", "volume_total"):
        if name in record:
            fields[name] = _own_volume(record[name], name=name)
    if "participant_count" in record:
        fields["participant_count"] = _own_count(record["participant_count"], name="participant_count")
    if "image_url" in record:
        url = _text(record["image_url"]).strip()
        if url and not _valid_url(url):
            raise RowError(f"image_url {url[:80]!r} is not an http(s) URL of at most {IMAGE_URL_MAX} characters")
        fields["image_url"] = url
    if not _is_empty(record.get("status")):
        status = _text(record["status"]).strip().lower()
        if status not in STATUSES:
            raise RowError(f"status {record['status']!r} is not one of {', '.join(sorted(STATUSES))}")
        fields["status"] = status
    if not _is_empty(record.get("created_at")):
        fields["created_at"] = parse_datetime_utc(record["created_at"], name="created_at")
    for name in ("resolution_date", "event_start_at", "news_at"):
        if name in record:
            fields[name] = parse_datetime_utc(record[name], name=name)

    tags = None
    if "tags" in record:
        raw_tags = record["tags"]
        if _is_empty(raw_tags):
            raw_tags = []
        elif isinstance(raw_tags, str):
            raw_tags = raw_tags.split(tags_separator) if tags_separator else [raw_tags]
        elif not isinstance(raw_tags, list) or not all(isinstance(t, str) for t in raw_tags):
            raise RowError("tags must be a list of strings")
        tags = tags_from_labels(t for t in raw_tags if t.strip())
    return MarketRow(where=where, market_id=market_id, fields=fields, tags=tags)


# --- Polymarket Gamma ---------------------------------------------------------------------------


def _json_list(value):
    if isinstance(value, list):
        return value
    if _is_empty(value):
        return []
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return []
    return parsed if isinstance(parsed, list) else []


def _gamma_bool(value):
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _gamma_volume(value, *, name):
    if _is_empty(value):
        return 0.0
    return max(0.0, parse_float(value, name=name))


def _gamma_probability(outcome_prices, last_trade_price):
    """Price of the first outcome ("Yes"), else the last trade price, clamped to 0..1."""
    prices = _json_list(outcome_prices)
    if prices:
        price = parse_float(prices[0], name="outcome_prices[0]")
    elif not _is_empty(last_trade_price):
        price = parse_float(last_trade_price, name="last_trade_price")
    else:
        raise RowError("no price: outcome_prices and last_trade_price are empty")
    return min(1.0, max(0.0, price))


def _gamma_market_id(slug, pm_id):
    market_id = slugify(_text(slug))[:MARKET_ID_MAX].strip("-")
    if market_id:
        return market_id
    if _is_empty(pm_id):
        raise RowError("market has neither a slug nor an id")
    return f"pm-{slugify(_text(pm_id))}"[:MARKET_ID_MAX]


def _gamma_status(*, closed, resolved):
    if not closed:
        return Market.Status.OPEN
    return Market.Status.RESOLVED if resolved else Market.Status.CLOSED


def gamma_market_build(
    *, where, pm_id, slug, question, description, outcome_prices, last_trade_price, closed, resolved,
    volume, volume_24hr, created_at, start_date, end_date, categories, tags, extra=None,
):
    """The mapping shared by the flattened CSV and the raw event JSON (docs/market-import.md)."""
    market_id = _gamma_market_id(slug, pm_id)
    title = _text(question).strip()
    if not title:
        raise RowError("question (title) is missing")
    if len(title) > TITLE_MAX:
        raise RowError(f"question is longer than {TITLE_MAX} characters")
    created = parse_datetime_utc(created_at, name="created_at") or parse_datetime_utc(start_date, name="start_date")
    if created is None:
        raise RowError("created_at and start_date are empty")
    category = next((c for c in map(category_normalize, categories) if c), None)
    fields = {
        "title": title,
        "description": _text(description).strip(),
        "category": category or category_from_tags(slug for slug, _ in tags),
        "probability": _gamma_probability(outcome_prices, last_trade_price),
        "volume_total": _gamma_volume(volume, name="volume"),
        "volume_24h": _gamma_volume(volume_24hr, name="volume_24hr"),
        "status": _gamma_status(closed=closed, resolved=resolved),
        "created_at": created,
        "resolution_date": parse_datetime_utc(end_date, name="end_date"),
        **(extra or {}),
    }
    return MarketRow(where=where, market_id=market_id, fields=fields, tags=tags)


def gamma_csv_row_parse(record, *, where):
    """A row of the flattened Gamma markets CSV -> MarketRow (image and game start are not in it)."""
    labels = [s for s in _text(record.get("event_tag_labels")).split("|") if s]
    slugs = [s for s in _text(record.get("event_tag_slugs")).split("|") if s]
    pairs = zip(slugs, labels, strict=True) if len(slugs) == len(labels) else ((label, label) for label in labels)
    return gamma_market_build(
        where=where,
        pm_id=record.get("market_id"),
        slug=record.get("market_slug"),
        question=record.get("question"),
        description=record.get("description"),
        outcome_prices=record.get("outcome_prices"),
        last_trade_price=record.get("last_trade_price"),
        closed=_gamma_bool(record.get("closed")),
        resolved=not _is_empty(record.get("winning_outcome")),
        volume=record.get("volume"),
        volume_24hr=record.get("volume_24hr"),
        created_at=record.get("created_at"),
        start_date=record.get("start_date"),
        end_date=record.get("end_date"),
        categories=(record.get("market_category"), record.get("event_category")),
        tags=tags_from_pairs(pairs),
    )


def _gamma_image(*candidates):
    return next((url for url in (_text(c).strip() for c in candidates) if url and _valid_url(url)), "")


def gamma_market_parse(market, *, event=None, where):
    """A raw Gamma market object (optionally inside its event) -> MarketRow."""
    event = event or {}
    raw_tags = event.get("tags") or market.get("tags") or []
    tags = tags_from_pairs((t.get("slug"), t.get("label")) for t in raw_tags if isinstance(t, dict))
    prices = _json_list(market.get("outcomePrices"))
    closed = _gamma_bool(market.get("closed"))
    # Same rule as the CSV export's derived winning_outcome: a final price >= 0.99.
    try:
        resolved = any(float(p) >= 0.99 for p in prices)
    except (TypeError, ValueError):
        resolved = False
    game_start = market.get("gameStartTime") or event.get("startTime")
    return gamma_market_build(
        where=where,
        pm_id=market.get("id"),
        slug=market.get("slug"),
        question=market.get("question"),
        description=market.get("description"),
        outcome_prices=prices,
        last_trade_price=market.get("lastTradePrice"),
        closed=closed,
        resolved=resolved,
        volume=market.get("volumeNum", market.get("volume")),
        volume_24hr=market.get("volume24hr"),
        created_at=market.get("createdAt"),
        start_date=market.get("startDate"),
        end_date=market.get("endDate"),
        categories=(market.get("category"), event.get("category")),
        tags=tags,
        extra={
            "image_url": _gamma_image(market.get("image"), market.get("icon"), event.get("image"), event.get("icon")),
            "event_start_at": parse_datetime_utc(game_start, name="gameStartTime"),
        },
    )


def gamma_event_parse(event, *, where):
    """A raw Gamma event -> one MarketRow or RejectedRow per nested market."""
    out = []
    for index, market in enumerate(event.get("markets") or []):
        market_where = f"{where} markets[{index}]"
        if not isinstance(market, dict):
            out.append(RejectedRow(market_where, "", "market is not an object"))
            continue
        out.append(_parse_or_reject(gamma_market_parse, market, event=event, where=market_where))
    return out


def _parse_or_reject(parse, record, *, where, **kwargs):
    try:
        return parse(record, where=where, **kwargs)
    except RowError as exc:
        guess = ""
        if isinstance(record, dict):
            guess = _text(record.get("market_id") or record.get("market_slug") or record.get("slug")).strip()
        return RejectedRow(where, guess[:MARKET_ID_MAX], str(exc))


# --- Files ------------------------------------------------------------------------------------------

FORMAT_LABELS = {
    "own-csv": "market CSV",
    "own-json": "market JSON",
    "gamma-csv": "Polymarket Gamma markets CSV",
    "gamma-json": "Polymarket Gamma events JSON",
}


def _open_text(path):
    path = Path(path)
    with path.open("rb") as probe:
        is_gzip = probe.read(2) == b"\x1f\x8b"
    raw = gzip.open(path, "rb") if is_gzip else path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _base_suffix(path):
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _is_gamma_market(obj):
    return isinstance(obj, dict) and ("question" in obj or "outcomePrices" in obj)


def _is_gamma_event(obj):
    return isinstance(obj, dict) and ("ticker" in obj or any(_is_gamma_market(m) for m in obj.get("markets") or []))


def _json_kind(obj):
    return "gamma-json" if _is_gamma_event(obj) or _is_gamma_market(obj) else "own-json"


def _json_object_rows(obj, *, where, kind):
    """Rows of one JSON object: an own-format market, or a Gamma event or market."""
    if not isinstance(obj, dict):
        return [RejectedRow(where, "", "not a JSON object")]
    if kind == "own-json":
        return [_parse_or_reject(own_record_parse, obj, where=where)]
    if _is_gamma_market(obj):
        return [_parse_or_reject(gamma_market_parse, obj, where=where)]
    return gamma_event_parse(obj, where=where)  # an event without markets gives no row


def _json_document_rows(document):
    if isinstance(document, dict) and "markets" in document and not _is_gamma_event(document):
        items, prefix = document["markets"], "markets"
    elif isinstance(document, dict):
        items, prefix = [document], ""
    else:
        items, prefix = document, ""
    if not isinstance(items, list):
        raise ImportFileError('a JSON file must hold a market or event, a list of them, or {"markets": [...]}')
    kind = _json_kind(next((i for i in items if isinstance(i, dict)), None))
    rows = (
        row
        for index, item in enumerate(items)
        for row in _json_object_rows(item, where=f"{prefix}[{index}]", kind=kind)
    )
    return kind, rows


def _jsonl_rows(stream):
    """(format, rows) of JSON Lines; the format is the one of the first object."""
    lines = iter(enumerate(stream, start=1))
    parsed = []
    for number, line in lines:
        if line.strip():
            try:
                parsed.append((number, json.loads(line)))
            except ValueError as exc:
                parsed.append((number, exc))
            break
    first = parsed[0][1] if parsed else None
    kind = _json_kind(first)

    def rows():
        with stream:
            for number, obj in parsed:
                yield from _jsonl_object_rows(number, obj, kind)
            for number, line in lines:
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    obj = exc
                yield from _jsonl_object_rows(number, obj, kind)

    return kind, rows()


def _jsonl_object_rows(number, obj, kind):
    if isinstance(obj, ValueError):  # a line that is not JSON
        return [RejectedRow(f"line {number}", "", f"invalid JSON: {obj}")]
    return _json_object_rows(obj, where=f"line {number}", kind=kind)


def _csv_rows(stream):
    reader = csv.reader(stream)
    header = next(reader, None)
    if not header:
        raise ImportFileError("the CSV file is empty")
    header = [h.strip() for h in header]
    columns = set(header)
    if {"question", "outcome_prices"} <= columns:
        kind, parse, kwargs = "gamma-csv", gamma_csv_row_parse, {}
    elif {"market_id", "title"} <= columns:
        kind, parse, kwargs = "own-csv", own_record_parse, {"tags_separator": "|"}
    else:
        raise ImportFileError(
            "unrecognised CSV header: expected the market format (market_id, title, ...) "
            "or a Gamma markets export (question, outcome_prices, ...)"
        )

    def rows():
        end_line = reader.line_num
        with stream:
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:  # broken quoting: the rest of the file cannot be trusted
                    raise ImportFileError(f"CSV error after line {end_line}: {exc}") from None
                start_line, end_line = end_line + 1, reader.line_num
                where = f"line {start_line}"
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    yield RejectedRow(where, "", f"expected {len(header)} columns, got {len(values)}")
                    continue
                yield _parse_or_reject(parse, dict(zip(header, values, strict=False)), where=where, **kwargs)

    return kind, rows()


def file_rows_read(path):
    """(format, iterator of MarketRow | RejectedRow) for a file of any accepted format, gzip or not.

    The format comes from the extension (.csv, .json, .jsonl/.ndjson, each optionally .gz)
    or, failing that, from the content.
    """
    suffix = _base_suffix(path)
    stream = _open_text(path)
    if suffix not in (".csv", ".json", ".jsonl", ".ndjson"):
        head = stream.read(1)
        while head and head.isspace():
            head = stream.read(1)
        stream.close()
        stream = _open_text(path)
        suffix = ".json" if head in ("[", "{") else ".csv"
    if suffix == ".csv":
        return _csv_rows(stream)
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl_rows(stream)
    text = stream.read()
    stream.close()
    try:
        document = json.loads(text)
    except ValueError as exc:
        if getattr(exc, "msg", "") == "Extra data":  # JSON Lines under a .json name
            return _jsonl_rows(io.StringIO(text))
        raise ImportFileError(f"invalid JSON: {exc}") from None
    return _json_document_rows(document)


def rows_fresh_dates(rows, *, now):
    """Shift every date so the newest created_at lands in the hour before `now`; reopen markets
    whose shifted resolution date is still ahead. For demos and benchmarks on an old catalog.

    The shift is a whole number of hours, so a re-run within the same hour writes nothing.
    """
    rows = list(rows)
    created = [r.fields["created_at"] for r in rows if isinstance(r, MarketRow) and r.fields.get("created_at")]
    newest = max(created, default=None)
    if newest is None:
        return rows
    shift = timedelta(hours=math.floor((now - newest) / timedelta(hours=1)))
    shifted = []
    for row in rows:
        if isinstance(row, MarketRow):
            fields = {**row.fields}
            for name in DATETIME_FIELDS:
                if fields.get(name) is not None:
                    fields[name] = fields[name] + shift
            if fields.get("resolution_date") is not None and fields["resolution_date"] > now:
                fields["status"] = Market.Status.OPEN
            row = dataclasses.replace(row, fields=fields)
        shifted.append(row)
    return shifted


# --- Upsert -----------------------------------------------------------------------------------------


@dataclass
class MarketImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    snapshots: int = 0
    tags_created: int = 0
    rejected: list = field(default_factory=list)

    @property
    def written(self):
        return self.created + self.updated

    def add(self, other):
        for name in ("created", "updated", "unchanged", "snapshots", "tags_created"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected.extend(other.rejected)


def _defaults(now):
    return {
        "description": "",
        "category": OTHER,
        "volume_24h": 0.0,
        "volume_total": 0.0,
        "participant_count": 0,
        "image_url": "",
        "status": Market.Status.OPEN,
        "created_at": now,
        "resolution_date": None,
        "event_start_at": None,
        "news_at": None,
        "editorial_description": "",
    }


def markets_import(
    *, rows: Iterable, chunk_size=1000, dry_run=False, now, snapshot_created=True
) -> MarketImportResult:
    """Upsert parsed rows (MarketRow or RejectedRow, in file order) chunk by chunk.

    Only rows whose values differ from the stored ones are written; each created market and
    each state change gets a MarketSnapshot at `now` (created markets only with
    `snapshot_created`: off for a caller that stores their history itself). A later row with
    a market_id already seen in `rows` is rejected. With `dry_run` the counts are computed
    and nothing is written.
    """
    result = MarketImportResult()
    first_seen = {}
    chunk = []
    for row in rows:
        if isinstance(row, RejectedRow):
            result.rejected.append(row)
            continue
        if row.market_id in first_seen:
            result.rejected.append(
                RejectedRow(row.where, row.market_id, f"duplicate market_id (first at {first_seen[row.market_id]})")
            )
            continue
        first_seen[row.market_id] = row.where
        chunk.append(row)
        if len(chunk) >= chunk_size:
            result.add(_chunk_import(rows=chunk, now=now, dry_run=dry_run, snapshot_created=snapshot_created))
            chunk = []
    if chunk:
        result.add(_chunk_import(rows=chunk, now=now, dry_run=dry_run, snapshot_created=snapshot_created))
    return result


def _chunk_import(*, rows, now, dry_run, snapshot_created):
    if dry_run:
        return _chunk_plan(rows=rows, now=now, lock=False, snapshot_created=snapshot_created).result
    return _chunk_upsert(rows=rows, now=now, snapshot_created=snapshot_created)


@dataclass
class _ChunkPlan:
    """What one chunk must write, found by comparing the rows with the stored markets."""

    result: MarketImportResult
    pks: dict  # market_id -> pk of the stored markets
    stored_tags: dict  # market pk -> {tag slug: link id}
    to_write: list  # (row, complete field values) of created and changed markets
    tags_to_set: list  # rows whose tag set is new or changed
    snapshot_ids: list  # market_ids that get a snapshot


def _chunk_plan(*, rows, now, lock, snapshot_created):
    """Two reads: the chunk's stored markets and their tag links. Writes nothing."""
    stored_qs = Market.objects.filter(market_id__in=[r.market_id for r in rows]).order_by("market_id")
    if lock:
        stored_qs = stored_qs.select_for_update()  # a trading-backend push must not land between compare and write
    stored = {m["market_id"]: m for m in stored_qs.values("id", "market_id", *MARKET_FIELDS)}
    stored_tags = {}
    if stored:
        links = Market.tags.through.objects.filter(market_id__in=[m["id"] for m in stored.values()])
        for link_id, market_pk, slug in links.values_list("id", "market_id", "tag__slug"):
            stored_tags.setdefault(market_pk, {})[slug] = link_id

    plan = _ChunkPlan(
        result=MarketImportResult(),
        pks={market_id: m["id"] for market_id, m in stored.items()},
        stored_tags=stored_tags,
        to_write=[],
        tags_to_set=[],
        snapshot_ids=[],
    )
    result = plan.result
    defaults = _defaults(now)
    for row in rows:
        old = stored.get(row.market_id)
        if old is None:
            plan.to_write.append((row, {**defaults, **row.fields}))
            if snapshot_created:
                plan.snapshot_ids.append(row.market_id)
            if row.tags:
                plan.tags_to_set.append(row)
            result.created += 1
            continue
        # Fields the source does not carry keep their stored value.
        values = {name: row.fields.get(name, old[name]) for name in MARKET_FIELDS}
        fields_changed = any(values[name] != old[name] for name in MARKET_FIELDS)
        tags_changed = row.tags is not None and {s for s, _ in row.tags} != set(stored_tags.get(old["id"], {}))
        if fields_changed:
            plan.to_write.append((row, values))
            if any(values[name] != old[name] for name in STATE_FIELDS):
                plan.snapshot_ids.append(row.market_id)
        if tags_changed:
            plan.tags_to_set.append(row)
        if fields_changed or tags_changed:
            result.updated += 1
        else:
            result.unchanged += 1
    result.snapshots = len(plan.snapshot_ids)
    return plan


@transaction.atomic
def _chunk_upsert(*, rows, now, snapshot_created):
    """A fixed number of statements for the chunk, whatever its size (SQLite splits big INSERTs)."""
    plan = _chunk_plan(rows=rows, now=now, lock=True, snapshot_created=snapshot_created)
    pks = plan.pks
    if plan.to_write:
        objs = Market.objects.bulk_create(
            [Market(market_id=row.market_id, **values) for row, values in plan.to_write],
            update_conflicts=True,
            unique_fields=["market_id"],
            update_fields=[*MARKET_FIELDS, "updated_at"],
        )
        pks.update({obj.market_id: obj.pk for obj in objs if obj.pk is not None})
        missing = [obj.market_id for obj in objs if obj.pk is None]
        if missing:  # a backend that cannot return ids from an upsert
            pks.update(Market.objects.filter(market_id__in=missing).values_list("market_id", "id"))

    if plan.tags_to_set:
        plan.result.tags_created = _links_replace(rows=plan.tags_to_set, pks=pks, stored_tags=plan.stored_tags)

    if plan.snapshot_ids:
        values = {row.market_id: values for row, values in plan.to_write}
        MarketSnapshot.objects.bulk_create(
            MarketSnapshot.of(market_pk=pks[market_id], taken_at=now, state=values[market_id])
            for market_id in plan.snapshot_ids
        )
    return plan.result


def _links_replace(*, rows, pks, stored_tags):
    """Make each row's market carry exactly its tags: create missing Tags, drop and add links.

    Returns the number of Tag rows created. An existing tag keeps its label (editors own it).
    """
    through = Market.tags.through
    labels = {}
    for row in rows:
        for slug, label in row.tags:
            labels.setdefault(slug, label)
    tag_ids = dict(Tag.objects.filter(slug__in=labels).values_list("slug", "id")) if labels else {}
    missing = [slug for slug in labels if slug not in tag_ids]
    if missing:
        Tag.objects.bulk_create([Tag(slug=slug, label=labels[slug]) for slug in missing], ignore_conflicts=True)
        tag_ids.update(Tag.objects.filter(slug__in=missing).values_list("slug", "id"))

    stale_links, new_links = [], []
    for row in rows:
        market_pk = pks[row.market_id]
        current = stored_tags.get(market_pk, {})
        wanted = {slug for slug, _ in row.tags}
        stale_links.extend(link_id for slug, link_id in current.items() if slug not in wanted)
        new_links.extend(
            through(market_id=market_pk, tag_id=tag_ids[slug]) for slug in wanted - set(current)
        )
    if stale_links:
        through.objects.filter(id__in=stale_links).delete()
    if new_links:
        through.objects.bulk_create(new_links, ignore_conflicts=True)
    return len(missing)
