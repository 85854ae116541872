"""The ingestion path: validate events, store them once, and update everything they feed.

`events_ingest` is the one entry point for `POST /api/track`, `POST /api/impressions`,
the demo seeder and the simulator. Everything an accepted event changes (raw log,
UserMarketState, affinities, session, profile, MarketActivity) is written in the same
transaction, so the user's next feed sees it.
"""
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import DataError, IntegrityError, transaction

from feedproject.db import pipelined
from feedproject.errors import error_summary
from feedproject.fields import AliasConflict, resolve_alias
from personalization.selectors import markets_for_ingest_cached
from personalization.services import user_state_apply
from tracking.services import (
    IMPRESSION,
    INTERACTION,
    market_activity_add,
    raw_events_store,
    rejected_events_store,
)
from tracking.validation import (
    IMPRESSION_FIELDS,
    INTERACTION_FIELDS,
    Invalid,
    raw_field,
    storable_check,
    storable_text,
    validate,
)

logger = logging.getLogger(__name__)

_FIELDS = {INTERACTION: INTERACTION_FIELDS, IMPRESSION: IMPRESSION_FIELDS}
_TIME_FIELD = {INTERACTION: "occurred_at", IMPRESSION: "shown_at"}


@dataclass(slots=True)
class Event:
    """One validated event, its time corrected for the client's clock skew."""

    kind: str
    event_id: uuid.UUID
    user_key: str
    market: object  # markets.selectors.MarketInfo
    at: datetime
    event_type: str = ""
    dwell_ms: int | None = None
    section: str = ""
    position: int | None = None
    geo_country: str = ""
    feed_request_id: uuid.UUID | None = None
    surface: str = "home"
    metadata: dict = field(default_factory=dict)


_Rejected = Invalid


@dataclass
class IngestResult:
    results: list

    def count(self, status):
        return sum(1 for r in self.results if r["status"] == status)

    def as_dict(self):
        return {
            "accepted": self.count("accepted"),
            "duplicate": self.count("duplicate"),
            "rejected": self.count("rejected"),
            "results": self.results,
        }


def events_ingest(*, kind, raw_events, user_key, acting_service=False, defaults=None, received_at):
    """Validate and store a batch of raw event dicts of one kind; returns per-event results.

    `user_key` is the caller's identity (None for a service that names users per event).
    `defaults` are batch-level values (sent_at, country, feed_request_id, surface, user_key)
    that an event may override. Only a service (`acting_service`) may name another user, in an
    event's `user_key` or the batch's: one rule, so each event naming someone else is rejected.
    """
    defaults = defaults or {}
    max_batch = settings.TRACK_MAX_BATCH
    results = [None] * len(raw_events)
    valid = []  # (index, validated data)
    fields = _FIELDS[kind]
    for index, raw in enumerate(raw_events):
        event_id = raw_field(raw, "event_id")
        try:
            if index >= max_batch:
                raise _Rejected("events", f"over the batch limit of {max_batch}; send it in another batch")
            valid.append((index, _validate(fields, raw, user_key=user_key, acting_service=acting_service,
                                           batch_user=defaults.get("user_key"))))
        except _Rejected as rejected:
            results[index] = _rejection(event_id, rejected)

    markets = markets_for_ingest_cached(market_ids={data["market_id"] for _, data in valid}, now=received_at)
    latest = received_at + timedelta(seconds=settings.TRACK_MAX_FUTURE_SECONDS)
    events, seen = [], set()
    for index, data in valid:
        try:
            event = _build_event(kind, data, markets, defaults, user_key, received_at, latest)
        except _Rejected as rejected:
            results[index] = _rejection(str(data["event_id"]), rejected)
            continue
        if event.event_id in seen:
            results[index] = {"event_id": str(event.event_id), "status": "duplicate"}
            continue
        seen.add(event.event_id)
        events.append((index, event))

    def rejections_store():
        rejected_events_store(kind=kind, raw_events=raw_events, results=results, user_key=user_key,
                              received_at=received_at)

    try:
        _events_store(kind, events, results, received_at, then=rejections_store)
    except REFUSALS:
        # Only now, on the failure path, one transaction per part: the normal batch keeps its
        # fixed query count. A refusal does not depend on what else is in the batch, so halving
        # finds the refused events in about 2·log2(n) transactions; the rest is stored.
        _events_store_isolating(kind, events, results, received_at)
        try:
            with transaction.atomic():
                rejections_store()
        except REFUSALS as refusal:  # not known to happen: an unstorable payload is stored as text
            logger.warning("ingest: the database refused the %d rejections of a batch (%s); answered, not kept",
                           sum(1 for r in results if r["status"] == "rejected"), error_summary(refusal))
    return IngestResult(results)


# What the database (or its driver) answers for one row it will not store. sqlite3 refuses an
# integer beyond 64 bits with OverflowError while binding it, before any SQL runs. Not here:
# OperationalError and InterfaceError (an outage: they propagate, the API answers 503) and
# ProgrammingError / InternalError (a statement or schema fault, which would refuse every
# event: a 500, so a bad deploy is not mistaken for bad data).
REFUSALS = (DataError, IntegrityError, OverflowError)
REFUSED = _Rejected("event", "was refused by the database; it was not stored")


def _events_store(kind, events, results, received_at, *, then=None):
    """One transaction: the raw log, then user state and activity for the events it did not hold yet."""
    with transaction.atomic():
        new_ids = raw_events_store(kind=kind, events=[event for _, event in events], received_at=received_at)
        accepted = []
        for index, event in events:
            is_new = event.event_id in new_ids
            results[index] = {"event_id": str(event.event_id), "status": "accepted" if is_new else "duplicate"}
            if is_new:
                accepted.append(event)
        with pipelined():
            if accepted:
                countries = user_state_apply(events=accepted, now=received_at)
                market_activity_add(events=accepted, countries=countries)
            if then:
                then()


def _events_store_isolating(kind, events, results, received_at):
    """Store `events` in a transaction of their own, without the rejections (which may be what was
    refused); if the database refuses them, each half in turn, down to the single events it refuses."""
    try:
        _events_store(kind, events, results, received_at)
        return
    except REFUSALS as refusal:
        if not events:
            raise  # no event to blame
        if len(events) == 1:
            index, event = events[0]
            logger.warning("ingest: the database refused %s %s (%s); the rest of its batch is stored",
                           kind, event.event_id, error_summary(refusal))
            results[index] = _rejection(str(event.event_id), REFUSED)
            return
    middle = len(events) // 2
    _events_store_isolating(kind, events[:middle], results, received_at)
    _events_store_isolating(kind, events[middle:], results, received_at)


def _validate(fields, raw, *, user_key, acting_service, batch_user=None):
    if not isinstance(raw, dict):
        raise _Rejected("event", "must be a JSON object")
    storable_check(raw)  # before json.dumps: it would raise on deep nesting, not reject
    size = len(json.dumps(raw, separators=(",", ":"), default=str))
    if size > settings.TRACK_MAX_EVENT_BYTES:
        raise _Rejected("event", f"is {size} bytes, the limit is {settings.TRACK_MAX_EVENT_BYTES}")
    data = validate(raw, fields)
    try:
        country = resolve_alias(data, "country", ("geo_country",))  # both parsed upper-case already
    except AliasConflict as conflict:
        raise _Rejected(conflict.name, conflict.message) from None
    data.pop("geo_country", None)
    if country:
        data["country"] = country
    named_user = data.get("user_key") or batch_user
    if named_user and named_user != user_key and not acting_service:
        raise _Rejected("user_key", "only a service token may send events for another user")
    if not (named_user or user_key):
        raise _Rejected("user_key", "is required when a service token sends events")
    return data


def _build_event(kind, data, markets, defaults, user_key, received_at, latest):
    market = markets.get(data["market_id"])
    if market is None:
        raise _Rejected("market_id", f"unknown market {data['market_id']!r}")
    time_field = _TIME_FIELD[kind]
    sent_at = data.get("sent_at") or defaults.get("sent_at")
    at = _corrected_time(data[time_field], sent_at, received_at, latest, time_field)
    return Event(
        kind=kind,
        event_id=data["event_id"],
        user_key=data.get("user_key") or defaults.get("user_key") or user_key,
        market=market,
        at=at,
        event_type=data.get("event_type", ""),
        dwell_ms=data.get("dwell_ms"),
        section=data.get("section") or "",
        position=data.get("position"),
        geo_country=(data.get("country") or defaults.get("country") or "").upper(),
        feed_request_id=data.get("feed_request_id") or defaults.get("feed_request_id"),
        surface=data.get("surface") or defaults.get("surface") or "home",
        metadata=data.get("metadata") or {},
    )


def _corrected_time(at, sent_at, received_at, latest, field_name):
    """Shift by the client's clock offset (received_at - sent_at); clamp small futures, refuse past `latest`."""
    try:
        if sent_at is not None:
            at = at + (received_at - sent_at)
        # In UTC, as stored: year 1 with a positive offset is before datetime.min and overflows.
        at = at.astimezone(dt_timezone.utc)
        too_late = at > latest
    except (OverflowError, ValueError):
        raise _Rejected(field_name, "is out of range after clock-skew correction (check it and sent_at)") from None
    if too_late:
        raise _Rejected(field_name, f"is in the future ({at.isoformat()} after skew correction)")
    return min(at, received_at)


def _rejection(event_id, rejected):
    return {
        "event_id": storable_text(event_id),
        "status": "rejected",
        "field": rejected.field,
        "reason": rejected.reason,
    }
