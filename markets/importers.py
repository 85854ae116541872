"""Market catalog import: parse the project's format and Polymarket Gamma records, upsert in bulk.

Parsing is pure (records in, `MarketRow` / `RejectedRow` out); `markets_import` is the one
service that writes. The other platforms' readers are in markets/platforms.py, the files and
their detection in markets/import_files.py; the decisions are in docs/market-import.md.
"""
import dataclasses
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_slug
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import slugify

from feedproject.vocabulary import CATEGORIES, OTHER
from markets.models import STATE_FIELDS, Event, Market, Tag
from markets.services import market_snapshots_store, market_states_update
from markets.validation import StateUpdate

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
    # Kalshi's categories (docs/market-import.md#kalshi)
    "climate and weather": "Weather",
    "science and technology": "Science & Tech",
    "health": "Science & Tech",
    "economics": "Business",
    "financials": "Business",
    "companies": "Business",
    "social": "Culture",
    "mentions": "Culture",
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


def category_key(value):
    """The form a category label is matched in: lower case, no surrounding spaces or dashes."""
    return (value or "").strip().strip("-").strip().lower()


def category_normalize(value, aliases=CATEGORY_ALIASES):
    """The readable category for a known spelling, else None.

    `aliases` maps category_key(label) to a category: the defaults above, or the defaults with the
    editors' CategoryAlias rows on top (markets.selectors.category_aliases).
    """
    return aliases.get(category_key(value))


def category_of_label(value, aliases=CATEGORY_ALIASES):
    """A platform's own category label on the site's taxonomy; an unknown label is kept as written."""
    label = clean_text(value).strip()[:CATEGORY_MAX]
    return category_normalize(label, aliases) or label or None


def category_from_tags(tag_slugs):
    """The first category of CATEGORY_TAG_RULES that one of the tags points to, else "Other"."""
    slugs = set(tag_slugs)
    for category, rule_slugs in CATEGORY_TAG_RULES:
        if slugs & rule_slugs:
            return category
    return OTHER


_WORD = re.compile(r"[^\W_]+")


def category_from_title(title):
    """The category the words of a title point to, through the tag rules, else None.

    For sources that carry no category or tag (Manifold's market list, PredictIt): "Will Bitcoin
    reach $150k?" matches the `bitcoin` tag rule. Single words and pairs ("super-bowl") are tried.
    """
    # Folded to ASCII as tag slugs are: "Copa América" matches the copa-america rule.
    words = [slugify(w) for w in _WORD.findall(clean_text(title))]
    words = [w for w in words if w]
    pairs = {f"{a}-{b}" for a, b in zip(words, words[1:], strict=False)}
    for slugs in (pairs, set(words)):  # "video games" is Culture before "games" is Sports
        category = category_from_tags(slugs)
        if category != OTHER:
            return category
    return None


# --- Rows ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventRow:
    """The event a parsed market belongs to (markets.models.Event), upserted on `event_id`."""

    event_id: str
    title: str
    slug: str = ""
    series: str = ""


@dataclass(frozen=True, slots=True)
class MarketRow:
    """One parsed market. `fields` holds only what the source carries; tags None = not carried.

    `event` None means the source says nothing about the market's event (the stored link stays);
    a `fields["event_id"]` of None clears it (the project's format with an empty event_id).
    `history` holds earlier states the source reports, as (age, {state field: value}) pairs: a
    new market gets a snapshot at now - age of its state with those values (Kalshi's
    previous-day price), so its odds change is known from the first import.
    """

    where: str
    market_id: str
    fields: dict
    tags: tuple | None = None  # ((slug, label), ...)
    event: EventRow | None = None
    history: tuple = ()


@dataclass(frozen=True, slots=True)
class RejectedRow:
    where: str
    market_id: str
    reason: str


class RowError(ValueError):
    """A record that cannot become a market; the message is the reason shown to the operator."""


def clean_text(value):
    # PostgreSQL text cannot hold NUL; strip it everywhere so both databases store the same.
    if value is None:
        return ""
    return str(value).replace("\x00", "")


def is_empty(value):
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
    if is_empty(value):
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
        label = clean_text(raw_label).strip()[:TAG_LABEL_MAX]
        slug = slugify(clean_text(raw_slug) or label)[:TAG_SLUG_MAX].strip("-")
        if not slug or slug in GENERIC_TAG_SLUGS or slugify(label) in GENERIC_TAG_SLUGS:
            continue
        tags.setdefault(slug, label or slug)
    return tuple(tags.items())


_url_validator = URLValidator(schemes=["http", "https"])


def valid_url(value):
    if len(value) > IMAGE_URL_MAX:
        return False
    try:
        _url_validator(value)
    except ValidationError:
        return False
    return True


EVENT_ID_MAX = 200  # Event.event_id and Event.series


def platform_key(platform, value):
    """A platform's own id as a catalog key: "kalshi-kxnewpope-70"; None for an empty id."""
    text = slugify(clean_text(value))
    if not text:
        return None
    return f"{platform}-{text}"[:EVENT_ID_MAX].strip("-")


def platform_event(platform, *, event_id, title, slug="", series="", fallback_title=""):
    """The EventRow of a platform's event, or None when the source gives it no id."""
    key = platform_key(platform, event_id)
    if key is None:
        return None
    title = clean_text(title).strip() or clean_text(fallback_title).strip()
    return EventRow(
        event_id=key,
        title=title[:TITLE_MAX],
        slug=slugify(clean_text(slug) or title)[:EVENT_ID_MAX].strip("-"),
        series=platform_key(platform, series) or "",
    )


# --- The project's own format ----------------------------------------------------------------


def _own_text(value, *, name, max_length=None):
    text = clean_text(value).strip()
    if max_length and len(text) > max_length:
        raise RowError(f"{name} is longer than {max_length} characters")
    return text


def _own_volume(value, *, name):
    if is_empty(value):
        return 0.0
    number = parse_float(value, name=name)
    if number < 0:
        raise RowError(f"{name} {value!r} is negative")
    return number


def _own_count(value, *, name):
    if is_empty(value):
        return 0
    number = parse_float(value, name=name)
    if number < 0 or number != int(number):
        raise RowError(f"{name} {value!r} is not a whole number >= 0")
    return int(number)


def _own_slug(value, *, name, max_length):
    """Refuse an id of the project's format that is not a slug of at most `max_length` characters."""
    try:
        validate_slug(value)
        is_slug = len(value) <= max_length
    except ValidationError:
        is_slug = False
    if not is_slug:
        raise RowError(f"{name} {value!r} is not a slug of at most {max_length} characters")


def own_record_parse(record, *, where, tags_separator=None, aliases=CATEGORY_ALIASES):
    """A market of the project's format (a JSON object or a CSV row as a dict) -> MarketRow.

    Keys that are absent leave the stored value alone; empty values clear optional fields.
    `tags_separator` splits a CSV cell ("a|b"); JSON carries a list.
    """
    market_id = clean_text(record.get("market_id")).strip()
    if not market_id:
        raise RowError("market_id is missing")
    _own_slug(market_id, name="market_id", max_length=MARKET_ID_MAX)
    title = _own_text(record.get("title"), name="title", max_length=TITLE_MAX)
    if not title:
        raise RowError("title is missing")
    if is_empty(record.get("probability")):
        raise RowError("probability is missing")
    probability = parse_float(record["probability"], name="probability")
    if not 0.0 <= probability <= 1.0:
        raise RowError(f"probability {record['probability']!r} is outside 0..1")

    fields = {"title": title, "probability": probability}
    if "description" in record:
        fields["description"] = clean_text(record["description"]).strip()
    if "editorial_description" in record:
        fields["editorial_description"] = clean_text(record["editorial_description"]).strip()
    if not is_empty(record.get("category")):
        raw = _own_text(record["category"], name="category", max_length=CATEGORY_MAX)
        fields["category"] = category_normalize(raw, aliases) or raw
    for name in ("volume_24h", "volume_total"):
        if name in record:
            fields[name] = _own_volume(record[name], name=name)
    if "participant_count" in record:
        fields["participant_count"] = _own_count(record["participant_count"], name="participant_count")
    if "image_url" in record:
        url = clean_text(record["image_url"]).strip()
        if url and not valid_url(url):
            raise RowError(f"image_url {url[:80]!r} is not an http(s) URL of at most {IMAGE_URL_MAX} characters")
        fields["image_url"] = url
    if not is_empty(record.get("status")):
        status = clean_text(record["status"]).strip().lower()
        if status not in STATUSES:
            raise RowError(f"status {record['status']!r} is not one of {', '.join(sorted(STATUSES))}")
        fields["status"] = status
    if not is_empty(record.get("created_at")):
        fields["created_at"] = parse_datetime_utc(record["created_at"], name="created_at")
    for name in ("resolution_date", "event_start_at", "news_at"):
        if name in record:
            fields[name] = parse_datetime_utc(record[name], name=name)

    tags = None
    if "tags" in record:
        raw_tags = record["tags"]
        if is_empty(raw_tags):
            raw_tags = []
        elif isinstance(raw_tags, str):
            raw_tags = raw_tags.split(tags_separator) if tags_separator else [raw_tags]
        elif not isinstance(raw_tags, list) or not all(isinstance(t, str) for t in raw_tags):
            raise RowError("tags must be a list of strings")
        tags = tags_from_labels(t for t in raw_tags if t.strip())
    event = None
    if "event_id" in record:
        event = _own_event(record)
        if event is None:
            fields["event_id"] = None  # an empty event_id takes the market out of its event
    return MarketRow(where=where, market_id=market_id, fields=fields, tags=tags, event=event)


def _own_event(record):
    event_id = clean_text(record.get("event_id")).strip()
    if not event_id:
        return None
    _own_slug(event_id, name="event_id", max_length=EVENT_ID_MAX)
    title = _own_text(record.get("event_title"), name="event_title", max_length=TITLE_MAX)
    if not title:
        raise RowError("event_title is missing (an event_id needs its title)")
    series = clean_text(record.get("event_series")).strip()
    return EventRow(
        event_id=event_id,
        title=title,
        slug=slugify(clean_text(record.get("event_slug")) or title)[:EVENT_ID_MAX].strip("-"),
        series=slugify(series)[:EVENT_ID_MAX].strip("-"),
    )


# --- Polymarket Gamma ---------------------------------------------------------------------------


def _json_list(value):
    if isinstance(value, list):
        return value
    if is_empty(value):
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
    if is_empty(value):
        return 0.0
    return max(0.0, parse_float(value, name=name))


def _gamma_probability(outcome_prices, last_trade_price):
    """Price of the first outcome ("Yes"), else the last trade price, clamped to 0..1."""
    prices = _json_list(outcome_prices)
    if prices:
        price = parse_float(prices[0], name="outcome_prices[0]")
    elif not is_empty(last_trade_price):
        price = parse_float(last_trade_price, name="last_trade_price")
    else:
        raise RowError("no price: outcome_prices and last_trade_price are empty")
    return min(1.0, max(0.0, price))


def _gamma_market_id(slug, pm_id):
    market_id = slugify(clean_text(slug))[:MARKET_ID_MAX].strip("-")
    if market_id:
        return market_id
    if is_empty(pm_id):
        raise RowError("market has neither a slug nor an id")
    return f"pm-{slugify(clean_text(pm_id))}"[:MARKET_ID_MAX]


def _gamma_status(*, closed, resolved):
    if not closed:
        return Market.Status.OPEN
    return Market.Status.RESOLVED if resolved else Market.Status.CLOSED


def gamma_market_build(
    *, where, pm_id, slug, question, description, outcome_prices, last_trade_price, closed, resolved,
    volume, volume_24hr, created_at, start_date, end_date, categories, tags, event=None, extra=None,
    aliases=CATEGORY_ALIASES,
):
    """The mapping shared by the flattened CSV and the raw event JSON (docs/market-import.md)."""
    market_id = _gamma_market_id(slug, pm_id)
    title = clean_text(question).strip()
    if not title:
        raise RowError("question (title) is missing")
    if len(title) > TITLE_MAX:
        raise RowError(f"question is longer than {TITLE_MAX} characters")
    created = parse_datetime_utc(created_at, name="created_at") or parse_datetime_utc(start_date, name="start_date")
    if created is None:
        raise RowError("created_at and start_date are empty")
    category = next((c for c in (category_normalize(c, aliases) for c in categories) if c), None)
    fields = {
        "title": title,
        "description": clean_text(description).strip(),
        "category": category or _gamma_category_from(tags, title, categories),
        "probability": _gamma_probability(outcome_prices, last_trade_price),
        "volume_total": _gamma_volume(volume, name="volume"),
        "volume_24h": _gamma_volume(volume_24hr, name="volume_24hr"),
        "status": _gamma_status(closed=closed, resolved=resolved),
        "created_at": created,
        "resolution_date": parse_datetime_utc(end_date, name="end_date"),
        **(extra or {}),
    }
    return MarketRow(where=where, market_id=market_id, fields=fields, tags=tags, event=event)


def _gamma_category_from(tags, title, labels=()):
    """No label an alias knows: the tags, then the title; then the platform's own label, kept as written
    (a label is a topic the platform named, better than Other); then Other."""
    category = category_from_tags(slug for slug, _ in tags)
    if category == OTHER:
        own = next((c for c in (clean_text(label).strip()[:CATEGORY_MAX] for label in labels) if c), None)
        return category_from_title(title) or own or OTHER
    return category


def gamma_csv_row_parse(record, *, where, aliases=CATEGORY_ALIASES):
    """A row of the flattened Gamma markets CSV -> MarketRow (image and game start are not in it)."""
    labels = [s for s in clean_text(record.get("event_tag_labels")).split("|") if s]
    slugs = [s for s in clean_text(record.get("event_tag_slugs")).split("|") if s]
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
        resolved=not is_empty(record.get("winning_outcome")),
        volume=record.get("volume"),
        volume_24hr=record.get("volume_24hr"),
        created_at=record.get("created_at"),
        start_date=record.get("start_date"),
        end_date=record.get("end_date"),
        categories=(record.get("market_category"), record.get("event_category")),
        tags=tags_from_pairs(pairs),
        event=platform_event(
            "polymarket", event_id=record.get("event_id"), title=record.get("event_title"),
            slug=record.get("event_slug"), series=record.get("series_slug"), fallback_title=record.get("question"),
        ),
        aliases=aliases,
    )


def _gamma_image(*candidates):
    return next((url for url in (clean_text(c).strip() for c in candidates) if url and valid_url(url)), "")


def _gamma_event_row(event, market):
    """The Event of a Gamma market: its event object, else (negRisk outcomes) its negRiskMarketID."""
    if event:
        series = event.get("series")
        series_slug = event.get("seriesSlug") or (
            series[0].get("slug") if isinstance(series, list) and series and isinstance(series[0], dict) else ""
        )
        return platform_event(
            "polymarket", event_id=event.get("id"), title=event.get("title"), slug=event.get("slug"),
            series=series_slug, fallback_title=market.get("question"),
        )
    if _gamma_bool(market.get("negRisk")) and not is_empty(market.get("negRiskMarketID")):
        # The outcomes of one multi-outcome question share this id even where no event is attached.
        return platform_event(
            "polymarket", event_id=f"negrisk-{clean_text(market['negRiskMarketID'])}", title=market.get("question"),
        )
    return None


def gamma_market_parse(market, *, event=None, where, aliases=CATEGORY_ALIASES):
    """A raw Gamma market object -> MarketRow; `event` is the event it is nested in.

    A market of `GET /markets` carries its events in `events[]`: the first one is its event, and
    its tags and category are the market's.
    """
    if event is None:
        nested = market.get("events")
        event = nested[0] if isinstance(nested, list) and nested and isinstance(nested[0], dict) else None
    event_row = _gamma_event_row(event, market)
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
        event=event_row,
        aliases=aliases,
        extra={
            "image_url": _gamma_image(market.get("image"), market.get("icon"), event.get("image"), event.get("icon")),
            "event_start_at": parse_datetime_utc(game_start, name="gameStartTime"),
        },
    )


def gamma_event_parse(event, *, where, aliases=CATEGORY_ALIASES):
    """A raw Gamma event -> one MarketRow or RejectedRow per nested market."""
    out = []
    for index, market in enumerate(event.get("markets") or []):
        market_where = f"{where} markets[{index}]"
        if not isinstance(market, dict):
            out.append(RejectedRow(market_where, "", "market is not an object"))
            continue
        out.append(parse_or_reject(gamma_market_parse, market, event=event, where=market_where, aliases=aliases))
    return out


def parse_or_reject(parse, record, *, where, **kwargs):
    try:
        return parse(record, where=where, **kwargs)
    except RowError as exc:
        guess = ""
        if isinstance(record, dict):
            guess = clean_text(record.get("market_id") or record.get("market_slug") or record.get("slug")).strip()
        return RejectedRow(where, guess[:MARKET_ID_MAX], str(exc))


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
    events_created: int = 0
    rejected: list = field(default_factory=list)

    @property
    def written(self):
        return self.created + self.updated

    @property
    def imported(self):
        """Rows that matched a market: created, updated or found unchanged."""
        return self.created + self.updated + self.unchanged

    def add(self, other):
        for name in ("created", "updated", "unchanged", "snapshots", "tags_created", "events_created"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected.extend(other.rejected)


# What an import compares and writes: the market's columns and its event link.
WRITTEN_FIELDS = (*MARKET_FIELDS, "event_id")
# What the upsert overwrites on a stored market: its trading state goes through market_states_update.
EDITORIAL_WRITTEN_FIELDS = tuple(name for name in WRITTEN_FIELDS if name not in STATE_FIELDS)
EVENT_FIELDS = ("title", "slug", "series")


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
        "state_at": now,  # a new market's state is the one imported at `now`
        "resolution_date": None,
        "event_start_at": None,
        "news_at": None,
        "editorial_description": "",
        "event_id": None,
    }


def markets_import(
    *, rows: Iterable, chunk_size=1000, dry_run=False, now, snapshot_created=True
) -> MarketImportResult:
    """Upsert parsed rows (MarketRow or RejectedRow, in file order) chunk by chunk.

    Only rows whose values differ from the stored ones are written; each created market and
    each state change gets a MarketSnapshot at `now` (created markets only with
    `snapshot_created`: off for a caller that stores their history itself; it also writes the
    rows' earlier states, `MarketRow.history`). Each row's event is upserted with the market.
    A later row with a market_id already seen in `rows` is rejected; the first row that names
    an event gives its title, slug and series for the whole run. With `dry_run` the counts are
    computed and nothing is written.
    """
    result = MarketImportResult()
    first_seen = {}
    events = {}
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
        if row.event is not None and events.setdefault(row.event.event_id, row.event) != row.event:
            row = dataclasses.replace(row, event=events[row.event.event_id])
        chunk.append(row)
        if len(chunk) >= chunk_size:
            result.add(_chunk_import(rows=chunk, now=now, dry_run=dry_run, snapshot_created=snapshot_created))
            chunk = []
    if chunk:
        result.add(_chunk_import(rows=chunk, now=now, dry_run=dry_run, snapshot_created=snapshot_created))
    return result


def _chunk_import(*, rows, now, dry_run, snapshot_created):
    if dry_run:
        event_pks, events_created = _events_plan(rows)
        plan = _chunk_plan(rows=rows, now=now, lock=False, snapshot_created=snapshot_created, event_pks=event_pks)
        plan.result.events_created = events_created
        return plan.result
    return _chunk_upsert(rows=rows, now=now, snapshot_created=snapshot_created)


@dataclass
class _ChunkPlan:
    """What one chunk must write, found by comparing the rows with the stored markets."""

    result: MarketImportResult
    pks: dict  # market_id -> pk of the stored markets
    stored_tags: dict  # market pk -> {tag slug: link id}
    to_write: list  # (row, complete field values) of created and changed markets
    tags_to_set: list  # rows whose tag set is new or changed
    snapshot_ids: list  # market_ids of created markets that get a snapshot
    state_updates: list  # StateUpdate of stored markets whose trading state the rows change
    history: list  # (market_id, taken_at, state values) of created markets' earlier states


def _events_plan(rows):
    """({event_id: pk} of the chunk's stored events, how many are new): one read, for a dry run."""
    wanted = {row.event.event_id for row in rows if row.event is not None}
    if not wanted:
        return {}, 0
    stored = dict(Event.objects.filter(event_id__in=wanted).values_list("event_id", "id"))
    # A new event has no pk yet: a marker that equals no stored link, so its markets count as changed.
    return {event_id: stored.get(event_id, ("new", event_id)) for event_id in wanted}, len(wanted - set(stored))


def _events_upsert(rows):
    """Create or update the chunk's events; ({event_id: pk}, created count). Unchanged events are not written.

    Two or three statements whatever the number of events: read, one upsert, a re-read of the
    new ones where the backend returns no ids.
    """
    wanted = {row.event.event_id: row.event for row in rows if row.event is not None}
    if not wanted:
        return {}, 0
    stored_qs = Event.objects.filter(event_id__in=wanted).values("id", "event_id", *EVENT_FIELDS)
    stored = {e["event_id"]: e for e in stored_qs}
    changed = [
        event for event_id, event in wanted.items()
        if event_id not in stored or any(getattr(event, f) != stored[event_id][f] for f in EVENT_FIELDS)
    ]
    pks = {event_id: e["id"] for event_id, e in stored.items()}
    if changed:
        objs = Event.objects.bulk_create(
            [Event(event_id=e.event_id, **{f: getattr(e, f) for f in EVENT_FIELDS}) for e in changed],
            update_conflicts=True,
            unique_fields=["event_id"],
            update_fields=list(EVENT_FIELDS),
        )
        pks.update({obj.event_id: obj.pk for obj in objs if obj.pk is not None})
        missing = [event_id for event_id in wanted if event_id not in pks]
        if missing:
            pks.update(Event.objects.filter(event_id__in=missing).values_list("event_id", "id"))
    return pks, len(set(wanted) - set(stored))


def _chunk_plan(*, rows, now, lock, snapshot_created, event_pks):
    """Two reads: the chunk's stored markets and their tag links. Writes nothing."""
    stored_qs = Market.objects.filter(market_id__in=[r.market_id for r in rows]).order_by("market_id")
    if lock:
        stored_qs = stored_qs.select_for_update()  # a trading-backend push must not land between compare and write
    stored = {m["market_id"]: m for m in stored_qs.values("id", "market_id", *WRITTEN_FIELDS)}
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
        state_updates=[],
        history=[],
    )
    result = plan.result
    defaults = _defaults(now)
    for row in rows:
        old = stored.get(row.market_id)
        fields = row.fields if row.event is None else {**row.fields, "event_id": event_pks[row.event.event_id]}
        if old is None:
            values = {**defaults, **fields}
            plan.to_write.append((row, values))
            if snapshot_created:
                plan.snapshot_ids.append(row.market_id)
                plan.history.extend(_history_states(row, values, now=now))
            if row.tags:
                plan.tags_to_set.append(row)
            result.created += 1
            continue
        # Fields the source does not carry keep their stored value.
        values = {name: fields.get(name, old[name]) for name in WRITTEN_FIELDS}
        fields_changed = any(values[name] != old[name] for name in WRITTEN_FIELDS)
        tags_changed = row.tags is not None and {s for s, _ in row.tags} != set(stored_tags.get(old["id"], {}))
        if fields_changed:
            plan.to_write.append((row, values))
            changes = {name: values[name] for name in STATE_FIELDS if name in values and values[name] != old[name]}
            if changes:
                plan.state_updates.append(StateUpdate(row.market_id, now, changes))
        if tags_changed:
            plan.tags_to_set.append(row)
        if fields_changed or tags_changed:
            result.updated += 1
        else:
            result.unchanged += 1
    result.snapshots = len(plan.snapshot_ids) + len(plan.history) + len(plan.state_updates)
    return plan


def _history_states(row, values, *, now):
    """(market_id, taken_at, state) of a new market's earlier states; none from before its creation."""
    for age, changes in row.history:
        taken_at = now - age
        if "created_at" in row.fields and row.fields["created_at"] > taken_at:
            continue
        yield row.market_id, taken_at, {**values, **changes}


@transaction.atomic
def _chunk_upsert(*, rows, now, snapshot_created):
    """A fixed number of statements for the chunk, whatever its size (SQLite splits big INSERTs)."""
    event_pks, events_created = _events_upsert(rows)
    plan = _chunk_plan(rows=rows, now=now, lock=True, snapshot_created=snapshot_created, event_pks=event_pks)
    plan.result.events_created = events_created
    pks = plan.pks
    if plan.to_write:
        # A new market's state is inserted with it; a stored market's state is not overwritten here
        # but goes through market_states_update below, the one write path of trading state.
        objs = Market.objects.bulk_create(
            [Market(market_id=row.market_id, **values) for row, values in plan.to_write],
            update_conflicts=True,
            unique_fields=["market_id"],
            update_fields=[*EDITORIAL_WRITTEN_FIELDS, "updated_at"],
        )
        pks.update({obj.market_id: obj.pk for obj in objs if obj.pk is not None})
        missing = [obj.market_id for obj in objs if obj.pk is None]
        if missing:  # a backend that cannot return ids from an upsert
            pks.update(Market.objects.filter(market_id__in=missing).values_list("market_id", "id"))

    if plan.tags_to_set:
        plan.result.tags_created = _links_replace(rows=plan.tags_to_set, pks=pks, stored_tags=plan.stored_tags)

    if plan.state_updates:
        market_states_update(updates=plan.state_updates, now=now)
    if plan.snapshot_ids or plan.history:
        # New markets only: their first state and earlier ones, kept where a snapshot of that moment exists.
        values = {row.market_id: values for row, values in plan.to_write}
        market_snapshots_store(rows=[
            *((pks[market_id], taken_at, state) for market_id, taken_at, state in plan.history),
            *((pks[market_id], now, values[market_id]) for market_id in plan.snapshot_ids),
        ], replace=False)
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
