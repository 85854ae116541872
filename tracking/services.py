"""The ingestion path: validate events, store them once, and update everything they feed.

`events_ingest` is the one entry point for `POST /api/track`, `POST /api/impressions`,
the demo seeder and the simulator. Everything an accepted event changes (raw log,
UserMarketState, affinities, session, profile, MarketActivity) is written in the same
transaction, so the user's next feed sees it.
"""
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import transaction


from feedproject.db import bulk_upsert, insert_new_ids, pipelined
from personalization.ranking.affinity import event_weight
from personalization.selectors import markets_for_ingest_cached
from personalization.services import user_state_apply
from tracking.models import Impression, Interaction, MarketActivity, MarketActivityUser, RejectedEvent
from tracking.validation import IMPRESSION_FIELDS, INTERACTION_FIELDS, Invalid, validate

INTERACTION = "interaction"
IMPRESSION = "impression"
_FIELDS = {INTERACTION: INTERACTION_FIELDS, IMPRESSION: IMPRESSION_FIELDS}
_TIME_FIELD = {INTERACTION: "occurred_at", IMPRESSION: "shown_at"}
_ACTIVITY_COUNTER = {"view_market": "views", "click": "clicks", "participate": "trades"}


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

    @property
    def weight(self):
        return event_weight(self.event_type, self.dwell_ms) if self.event_type else 0.0


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
    Only a service (`acting_service`) may name another user in an event's `user_key`. `defaults` are batch-level values (sent_at,
    geo_country, feed_request_id, surface) that an event may override.
    """
    defaults = defaults or {}
    max_batch = settings.TRACK_MAX_BATCH
    results = [None] * len(raw_events)
    valid = []  # (index, validated data)
    fields = _FIELDS[kind]
    for index, raw in enumerate(raw_events):
        event_id = _get(raw, "event_id")
        try:
            if index >= max_batch:
                raise _Rejected("events", f"over the batch limit of {max_batch}; send it in another batch")
            valid.append((index, _validate(fields, raw, user_key=user_key, acting_service=acting_service)))
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

    with transaction.atomic():
        new_ids = _store_raw(kind, [event for _, event in events], received_at)
        accepted = []
        for index, event in events:
            is_new = event.event_id in new_ids
            results[index] = {"event_id": str(event.event_id), "status": "accepted" if is_new else "duplicate"}
            if is_new:
                accepted.append(event)
        with pipelined():
            if accepted:
                countries = user_state_apply(events=accepted, now=received_at)
                _market_activity_add(accepted, countries)
            _store_rejections(kind, raw_events, results, user_key, received_at)
    return IngestResult(results)


def _validate(fields, raw, *, user_key, acting_service):
    if not isinstance(raw, dict):
        raise _Rejected("event", "must be a JSON object")
    size = len(json.dumps(raw, separators=(",", ":"), default=str))
    if size > settings.TRACK_MAX_EVENT_BYTES:
        raise _Rejected("event", f"is {size} bytes, the limit is {settings.TRACK_MAX_EVENT_BYTES}")
    data = validate(raw, fields)
    named_user = data.get("user_key")
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
        user_key=data.get("user_key") or user_key,
        market=market,
        at=at,
        event_type=data.get("event_type", ""),
        dwell_ms=data.get("dwell_ms"),
        section=data.get("section") or "",
        position=data.get("position"),
        geo_country=(data.get("geo_country") or defaults.get("geo_country") or "").upper(),
        feed_request_id=data.get("feed_request_id") or defaults.get("feed_request_id"),
        surface=data.get("surface") or defaults.get("surface") or "home",
        metadata=data.get("metadata") or {},
    )


def _corrected_time(at, sent_at, received_at, latest, field_name):
    """Shift by the client's clock offset (received_at - sent_at); clamp small futures, refuse past `latest`."""
    if sent_at is not None:
        at = at + (received_at - sent_at)
    if at > latest:
        raise _Rejected(field_name, f"is in the future ({at.isoformat()} after skew correction)")
    return min(at, received_at)


def _rejection(event_id, rejected):
    return {
        "event_id": str(event_id) if event_id is not None else None,
        "status": "rejected",
        "field": rejected.field,
        "reason": rejected.reason,
    }


_RAW_COLUMNS = {
    IMPRESSION: ("event_id", "user_key", "market", "feed_request_id", "surface", "section", "position",
                 "shown_at", "received_at"),
    INTERACTION: ("event_id", "user_key", "market", "event_type", "occurred_at", "received_at", "dwell_ms",
                  "section", "position", "geo_country", "feed_request_id", "metadata"),
}


def _store_raw(kind, events, received_at):
    """Append new events to the raw log; returns the ids that were not stored before."""
    if kind == IMPRESSION:
        model = Impression
        rows = [
            (e.event_id, e.user_key, e.market.pk, e.feed_request_id, e.surface, e.section, e.position, e.at,
             received_at)
            for e in events
        ]
    else:
        model = Interaction
        rows = [
            (e.event_id, e.user_key, e.market.pk, e.event_type, e.at, received_at, e.dwell_ms, e.section,
             e.position, e.geo_country, e.feed_request_id, e.metadata)
            for e in events
        ]
    return insert_new_ids(model, _RAW_COLUMNS[kind], rows)


def _bucket_start(at):
    seconds = MarketActivity.BUCKET_SECONDS
    epoch = int(at.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(epoch, tz=dt_timezone.utc)


def _market_activity_add(events, countries):
    """Count accepted events into the 5-minute buckets of their own time, globally and per country."""
    counters = {}
    users = set()
    for e in events:
        country = e.geo_country or countries.get(e.user_key, "")
        bucket = _bucket_start(e.at)
        for scope in ("global", country) if country else ("global",):
            key = (e.market.pk, scope, bucket)
            counts = counters.setdefault(key, Counter())
            if e.kind == IMPRESSION:
                counts["impressions"] += 1
            else:
                if e.event_type in _ACTIVITY_COUNTER:
                    counts[_ACTIVITY_COUNTER[e.event_type]] += 1
                if e.weight > 0:
                    counts["engagements"] += 1
            users.add((e.market.pk, scope, bucket, e.user_key))
    names = ("views", "clicks", "trades", "impressions", "engagements")
    bulk_upsert(
        MarketActivity,
        ("market", "scope", "bucket_start", *names),
        [(*key, *(counts[n] for n in names)) for key, counts in sorted(counters.items())],
        conflict=("market", "scope", "bucket_start"),
        add=names,
    )
    bulk_upsert(
        MarketActivityUser, ("market", "scope", "bucket_start", "user_key"), sorted(users),
        conflict=("market", "scope", "bucket_start", "user_key"),
    )


def _store_rejections(kind, raw_events, results, user_key, received_at):
    rows = [
        RejectedEvent(
            received_at=received_at,
            endpoint=kind,
            user_key=str(_get(raw_events[index], "user_key") or user_key or "")[:64],
            event_id=(result["event_id"] or "")[:64],
            field=result["field"][:64],
            reason=result["reason"][:300],
            payload=_jsonable(raw_events[index]),
        )
        for index, result in enumerate(results)
        if result["status"] == "rejected"
    ]
    RejectedEvent.objects.bulk_create(rows)


def _get(raw, key):
    return raw.get(key) if isinstance(raw, dict) else None


def _jsonable(value):
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


RETENTION = timedelta(days=30)
RETENTION_CHUNK = 10_000


def raw_events_retention_apply(*, now, retention=RETENTION, chunk=RETENTION_CHUNK, on_chunk=None):
    """Delete raw impressions, and the per-bucket user sets, older than `retention`; returns counts.

    Their counts stay in UserMarketState and MarketActivity. The user sets only serve
    distinct-user counts over windows of at most 24 h. Deletes go oldest first in chunks
    of short transactions, so a run killed half-way leaves a smaller backlog, never a gap.
    """
    cutoff = now - retention
    deleted = {}
    for model, time_field in ((Impression, "shown_at"), (MarketActivityUser, "bucket_start")):
        old = model.objects.filter(**{f"{time_field}__lt": cutoff}).order_by(time_field)
        total = 0
        while ids := list(old.values_list("pk", flat=True)[:chunk]):
            total += model.objects.filter(pk__in=ids).delete()[0]
            if on_chunk:
                on_chunk()
        deleted[model._meta.model_name] = total
    return deleted
