"""Writes to the raw event log and the activity buckets, and their retention.

Called by ingestion (ingestion/services.py) inside its transaction, with events it has
validated; the retention task deletes what is past its age.
"""
import json
from collections import Counter
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from feedproject.db import bulk_upsert, insert_new_ids
from feedproject.vocabulary import ENGAGEMENTS
from tracking.models import (
    Impression,
    Interaction,
    MarketActivity,
    MarketActivityUser,
    RejectedEvent,
    ServedItem,
)
from tracking.validation import Invalid, raw_field, storable_check, storable_text

INTERACTION = "interaction"
IMPRESSION = "impression"
_ACTIVITY_COUNTER = {"view_market": "views", "click": "clicks", "participate": "trades"}


_RAW_COLUMNS = {
    IMPRESSION: ("event_id", "user_key", "market", "feed_request_id", "surface", "section", "position",
                 "shown_at", "received_at"),
    INTERACTION: ("event_id", "user_key", "market", "event_type", "occurred_at", "received_at", "dwell_ms",
                  "section", "position", "geo_country", "feed_request_id", "metadata"),
}


def raw_events_store(*, kind, events, received_at):
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


_SERVED_COLUMNS = ("feed_request_id", "user_key", "surface", "served_at", "experiment_id", "market",
                   "config_version", "model_version", "position", "pool", "reason", "score", "components",
                   "propensity", "arm", "reason_text")


def served_items_store(*, feed_request_id, user_key, surface, served_at, items, experiment_id=None):
    """Log a served feed, one row per item: (market pk, config version, model version or None, position, pool,
    reason, score, components, propensity, arm[, reason_text]); arm is "" outside an experiment, reason_text
    "" when not given. Versions are per item: an interleaved feed mixes two arms' items.

    One statement. A feed_request_id logged before keeps its first record (a client that asks
    for the same feed again is shown the same feed, not served a second one).
    """
    bulk_upsert(
        ServedItem,
        _SERVED_COLUMNS,
        [(feed_request_id, user_key, surface, served_at, experiment_id, *item, *("",) * (11 - len(item)))
         for item in items],
        conflict=("feed_request_id", "market"),
    )


def _bucket_start(at):
    seconds = MarketActivity.BUCKET_SECONDS
    epoch = int(at.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(epoch, tz=dt_timezone.utc)


def market_activity_add(*, events, countries):
    """Count accepted events into the 5-minute buckets of their own time, globally and per country."""
    counters = {}
    users = {}
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
                if e.event_type in ENGAGEMENTS:
                    counts["engagements"] += 1
            user = users.setdefault((e.market.pk, scope, bucket, e.user_key), Counter())
            user["engagements"] += int(e.kind != IMPRESSION and e.event_type in ENGAGEMENTS)
    names = ("views", "clicks", "trades", "impressions", "engagements")
    bulk_upsert(
        MarketActivity,
        ("market", "scope", "bucket_start", *names),
        [(*key, *(counts[n] for n in names)) for key, counts in sorted(counters.items())],
        conflict=("market", "scope", "bucket_start"),
        add=names,
    )
    bulk_upsert(
        MarketActivityUser, ("market", "scope", "bucket_start", "user_key", "engagements"),
        [(*key, counts["engagements"]) for key, counts in sorted(users.items())],
        conflict=("market", "scope", "bucket_start", "user_key"), add=("engagements",),
    )


def rejected_events_store(*, kind, raw_events, results, user_key, received_at):
    rows = [
        RejectedEvent(
            received_at=received_at,
            endpoint=kind,
            user_key=storable_text(raw_field(raw_events[index], "user_key") or user_key or "")[:64],
            event_id=(result["event_id"] or "")[:64],
            field=result["field"][:64],
            reason=result["reason"][:300],
            payload=_jsonable(raw_events[index]),
        )
        for index, result in enumerate(results)
        if result["status"] == "rejected"
    ]
    RejectedEvent.objects.bulk_create(rows)


def _jsonable(value):
    """The payload as stored: as sent if the database can hold it, else its escaped JSON text.

    json.dumps escapes NUL and surrogates (ensure_ascii) and writes inf/NaN as words, so the
    text is storable where the value (jsonb refuses NUL and inf) is not.
    """
    try:
        storable_check(value)
        json.dumps(value, allow_nan=False)
        return value
    except (Invalid, TypeError, ValueError, RecursionError):
        pass
    try:
        return json.dumps(value, default=repr)
    except (TypeError, ValueError, RecursionError):
        return "<payload not representable>"


RETENTION = timedelta(days=30)
RETENTION_CHUNK = 10_000


def raw_events_retention_apply(*, now, retention=RETENTION, chunk=RETENTION_CHUNK, on_chunk=None):
    """Delete raw impressions, served feeds and the per-bucket user sets older than `retention`; returns counts.

    Their counts stay in UserMarketState and MarketActivity; a served feed is only worth keeping
    while its impressions are. The user sets only serve distinct-user counts over windows of at
    most 24 h. Deletes go oldest first in chunks of short transactions, so a run killed half-way
    leaves a smaller backlog, never a gap.
    """
    cutoff = now - retention
    deleted = {}
    logs = ((Impression, "shown_at"), (ServedItem, "served_at"), (MarketActivityUser, "bucket_start"))
    for model, time_field in logs:
        old = model.objects.filter(**{f"{time_field}__lt": cutoff}).order_by(time_field)
        total = 0
        while ids := list(old.values_list("pk", flat=True)[:chunk]):
            total += model.objects.filter(pk__in=ids).delete()[0]
            if on_chunk:
                on_chunk()
        deleted[model._meta.model_name] = total
    return deleted
