"""Validation of one tracked event: a declarative field table, checked without per-event objects.

The ingestion path validates thousands of events a second; DRF serializers cost ~170 us
an event here, this costs ~15 us (bench/ingest.py). The same table produces the DRF
serializers that document the API (ingestion/serializers.py), so the two cannot drift.
"""
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone

from feedproject.fields import UNSTORABLE
from feedproject.vocabulary import EVENT_TYPES, Section

SECTIONS = tuple(section.value for section in Section)
SERVER_OWNED = frozenset({"received_at", "weight", "weights", "score", "affinity", "id", "pk", "hidden"})
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
MAX_INT_BITS = 128  # beyond, str() and json.dumps refuse (4,300 digits) or the database overflows
MAX_DEPTH = 64  # metadata nesting; deeper JSON is no product data, only a way to exhaust the stack


class Invalid(Exception):
    def __init__(self, field, reason):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # uuid | datetime | choice | int | str | country | object
    required: bool = False
    choices: tuple = ()
    low: int | None = None
    high: int | None = None
    max_length: int | None = None
    help: str = ""
    deprecated: bool = False  # a deprecated alias (feedproject.fields.resolve_alias): documented as deprecated


def _parse(field, value):
    kind = field.kind
    if kind == "uuid":
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise Invalid(field.name, "must be a UUID") from None
    if kind == "datetime":
        if not isinstance(value, str):
            raise Invalid(field.name, "must be an ISO 8601 date-time string")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid(field.name, f"is not an ISO 8601 date-time: {value[:40]!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt_timezone.utc)
    if kind == "choice":
        if value not in field.choices:
            raise Invalid(field.name, f"{str(value)[:40]!r} is not one of: {', '.join(field.choices)}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(field.name, "must be a whole number")
        if not field.low <= value <= field.high:
            raise Invalid(field.name, f"must be between {field.low} and {field.high}")
        return value
    if kind == "str":
        if not isinstance(value, str) or not value:
            raise Invalid(field.name, "must be a non-empty string")
        if len(value) > field.max_length:
            raise Invalid(field.name, f"must be at most {field.max_length} characters")
        return value
    if kind == "country":
        if not isinstance(value, str) or (value and not _COUNTRY.match(value)):
            raise Invalid(field.name, "must be a two-letter ISO country code")
        return value.upper()
    if kind == "object":
        if not isinstance(value, dict):
            raise Invalid(field.name, "must be a JSON object")
        return value
    raise AssertionError(kind)


def _unstorable(text):
    if "\x00" in text:
        return "contains a NUL character"
    return "contains a lone surrogate (not valid Unicode)"


def storable_check(raw):
    """Raise Invalid for what the database cannot store or Python cannot serialise safely.

    Walks keys and values at any depth, without recursion: NUL / lone surrogates in a string,
    NaN or infinity (Python's json reads 1e400 as inf), and nesting deeper than MAX_DEPTH.
    The field named is the event's top-level key the problem sits under.
    """
    stack = [(raw, 0, "event")]
    while stack:
        value, depth, top = stack.pop()
        if isinstance(value, str):
            if UNSTORABLE.search(value):
                raise Invalid(top, _unstorable(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() > MAX_INT_BITS:
                raise Invalid(top, "is a number too large to store")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise Invalid(top, "must be a finite number (no NaN or infinity)")
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise Invalid(top, f"is nested deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
            for key, item in items:
                if isinstance(key, str) and UNSTORABLE.search(key):
                    raise Invalid("event" if depth == 0 else top, f"has a key that {_unstorable(key)}")
                stack.append((item, depth + 1, key if depth == 0 and isinstance(key, str) and key else top))


def storable_text(value):
    """`value` as text safe to store and to send back: unstorable characters become U+FFFD."""
    if value is None:
        return None
    try:
        text = value if isinstance(value, str) else str(value)
    except (ValueError, RecursionError):
        return None
    return UNSTORABLE.sub("\ufffd", text)


def raw_field(raw, key):
    """`raw[key]` of an event as sent, or None when the event is not even an object."""
    return raw.get(key) if isinstance(raw, dict) else None


def validate(raw, fields):
    """The clean values of `raw` (a dict) by `fields` ({name: Field}); raises Invalid on the first problem."""
    if not isinstance(raw, dict):
        raise Invalid("event", "must be a JSON object")
    for key in raw:
        if key == "":
            raise Invalid("event", "has a field with an empty name")
        if key not in fields:
            if key in SERVER_OWNED:
                raise Invalid(key, "is set by the server and cannot be sent")
            raise Invalid(key, "is not a known field")
    clean = {}
    for name, field in fields.items():
        value = raw.get(name)
        if value is None or value == "":
            if field.required:
                raise Invalid(name, "is required")
            continue
        clean[name] = _parse(field, value)
    return clean


_COMMON = (
    Field("event_id", "uuid", required=True, help="Client-generated UUID; retries with the same id are stored once."),
    Field("market_id", "str", required=True, max_length=200),
    Field("sent_at", "datetime", help="Client clock when sent; overrides the batch's sent_at."),
    Field("section", "choice", choices=SECTIONS),
    Field("position", "int", low=0, high=10_000),
    Field("feed_request_id", "uuid"),
    Field("user_key", "str", max_length=64, help="Service tokens only: the user this event is for."),
)
INTERACTION_FIELDS = {
    f.name: f
    for f in (
        *_COMMON,
        Field("event_type", "choice", required=True, choices=tuple(sorted(EVENT_TYPES))),
        Field("occurred_at", "datetime", required=True),
        Field("dwell_ms", "int", low=0, high=86_400_000),
        Field("country", "country", help="The visitor's country (two letters, any case); overrides the batch's."),
        Field("geo_country", "country", deprecated=True,
              help="Deprecated: the old name of `country`. Given with a different `country`, the event is rejected "
              "on `country`."),
        Field("surface", "str", max_length=32),
        Field("metadata", "object"),
    )
}
IMPRESSION_FIELDS = {f.name: f for f in (*_COMMON, Field("shown_at", "datetime", required=True))}
