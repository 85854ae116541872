"""Validation of one pushed market state (`POST /api/markets/state`, `PATCH /api/markets/{id}`), without
per-update objects: at 5,000 updates a second a DRF serializer per update would cost more than the write.

markets/serializers.py documents the same fields for the OpenAPI schema; a test keeps the two equal.
"""
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

from feedproject.api import AS_OF_EARLIEST, AS_OF_LATEST
from feedproject.fields import UNSTORABLE
from markets.models import STATE_FIELDS, Market

STATE_UPDATES_MAX = 1000  # per request of POST /api/markets/state
MARKET_ID_MAX_LENGTH = 200
COUNT_MAX = 2**31 - 1  # what a PositiveIntegerField holds on every database
STATUSES = tuple(Market.Status.values)
UPDATE_FIELDS = ("market_id", "at", *STATE_FIELDS)


class Invalid(Exception):
    def __init__(self, field, reason):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """One valid update: the market's slug, the moment its state was this, and the fields that were sent."""

    market_id: str
    at: datetime
    changes: dict  # a subset of STATE_FIELDS -> clean value


def future_limit(now):
    """The latest `at` accepted at `now`: the clock-skew tolerance of /api/track (TRACK_MAX_FUTURE_SECONDS)."""
    return now + timedelta(seconds=settings.TRACK_MAX_FUTURE_SECONDS)


def state_update_parse(raw, *, now, latest=None, market_id=None):
    """The StateUpdate of one raw update (a dict from JSON); raises Invalid on the first problem.

    With `market_id` (PATCH names it in the URL) the body carries no market_id and `at` is optional,
    `now` by default; otherwise both are required. `latest` is future_limit(now), for a caller that
    parses many updates at one `now` to compute once.
    """
    if not isinstance(raw, dict):
        raise Invalid("update", "must be a JSON object")
    patch = market_id is not None
    allowed = STATE_FIELDS_AND_AT if patch else UPDATE_FIELDS
    for key in raw:
        if key not in allowed:
            if isinstance(key, str) and UNSTORABLE.search(key):
                raise Invalid("update", "has a field name with a NUL or an unpaired surrogate")
            if key == "market_id":
                raise Invalid(key, "is given by the URL; leave it out of the body")
            if key in FIELD_NAMES_EDITORIAL:
                raise Invalid(key, "cannot be changed through this endpoint (it is editorial)")
            raise Invalid(key, "is not a known field")
    if not patch:
        market_id = _market_id(raw.get("market_id"))
    if raw.get("at") is not None:
        at = _at(raw["at"], future_limit(now) if latest is None else latest)
    elif patch:
        at = now
    else:
        raise Invalid("at", "is required")
    changes = {}
    for name in STATE_FIELDS:
        if name in raw:
            changes[name] = _PARSERS[name](name, raw[name])
    if not changes:
        raise Invalid("update", "changes nothing; send at least one of: " + ", ".join(STATE_FIELDS))
    return StateUpdate(market_id, at, changes)


STATE_FIELDS_AND_AT = ("at", *STATE_FIELDS)
FIELD_NAMES_EDITORIAL = frozenset(
    f.name for f in Market._meta.get_fields() if f.concrete and f.name not in (*STATE_FIELDS, "id", "market_id")
)


def _market_id(value):
    if value is None or value == "":
        raise Invalid("market_id", "is required")
    if not isinstance(value, str):
        raise Invalid("market_id", "must be a string")
    if len(value) > MARKET_ID_MAX_LENGTH:
        raise Invalid("market_id", f"must be at most {MARKET_ID_MAX_LENGTH} characters")
    if UNSTORABLE.search(value):
        raise Invalid("market_id", "contains a NUL or an unpaired surrogate")
    return value


def _at(value, latest):
    if not isinstance(value, str):
        raise Invalid("at", "must be an ISO 8601 date-time string with a time zone")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("at", f"is not an ISO 8601 date-time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise Invalid("at", "has no time zone; give one, e.g. 2026-11-26T10:00:00Z")
    try:
        parsed = parsed.astimezone(UTC)  # year 1 at +01:00 is before datetime.min
    except (OverflowError, ValueError):
        raise Invalid("at", "is out of range") from None
    if not AS_OF_EARLIEST <= parsed < AS_OF_LATEST:
        raise Invalid("at", f"must be from {AS_OF_EARLIEST.isoformat()} to before {AS_OF_LATEST.isoformat()}")
    if parsed > latest:
        raise Invalid("at", f"is in the future ({parsed.isoformat()}; the tolerance is "
                            f"{settings.TRACK_MAX_FUTURE_SECONDS} s of clock skew)")
    return parsed


def _number(name, value, low=0.0, high=math.inf):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(name, "must be a number")
    try:
        value = float(value)
    except OverflowError:  # an int too large for a double
        raise Invalid(name, "is a number too large to store") from None
    if not math.isfinite(value):
        raise Invalid(name, "must be a finite number (no NaN or infinity)")
    if not low <= value <= high:
        raise Invalid(name, f"must be between {low:g} and {high:g}" if high < math.inf else f"must be at least {low:g}")
    return value


def _probability(name, value):
    return _number(name, value, 0.0, 1.0)


def _count(name, value):
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(name, "must be a whole number")
    if not 0 <= value <= COUNT_MAX:
        raise Invalid(name, f"must be between 0 and {COUNT_MAX}")
    return value


def _status(name, value):
    if value not in STATUSES:
        raise Invalid(name, f"{str(value)[:40]!r} is not one of: {', '.join(STATUSES)}")
    return value


_PARSERS = {
    "probability": _probability,
    "volume_24h": _number,
    "volume_total": _number,
    "trades_24h": _count,
    "participant_count": _count,
    "status": _status,
}
assert set(_PARSERS) == set(STATE_FIELDS)
