"""Writes to the catalog that other parts of the system must hear about."""
import time
from datetime import timedelta

from django.db import transaction

from feedproject.cache import cache_set
from markets.models import STATE_FIELDS, Market, MarketSnapshot

CATALOG_VERSION_KEY = "catalog:version"


def catalog_version_bump():
    """Tell every process that keeps catalog arrays in memory to reload them.

    A cache that is down is not an error: readers also reload on a short timer
    (personalization/selectors.py)."""
    cache_set(CATALOG_VERSION_KEY, time.time_ns(), None)


def market_snapshot_take(*, markets, at):
    """One snapshot per market of its current state."""
    MarketSnapshot.objects.bulk_create([MarketSnapshot.of(market_pk=m.pk, taken_at=at, state=m) for m in markets])


@transaction.atomic
def market_state_update(*, market_id, changes, at):
    """Apply state pushed by the trading backend; write a snapshot when anything changed.

    Returns (market, changed_field_names). Raises Market.DoesNotExist for an unknown id.
    """
    market = Market.objects.select_for_update().get(market_id=market_id)
    changed = [name for name in STATE_FIELDS if name in changes and getattr(market, name) != changes[name]]
    if not changed:
        return market, []
    for name in changed:
        setattr(market, name, changes[name])
    market.save(update_fields=[*changed, "updated_at"])
    market_snapshot_take(markets=[market], at=at)
    transaction.on_commit(catalog_version_bump)
    return market, changed


SNAPSHOT_SLOT = timedelta(minutes=15)


def market_snapshots_refresh(*, now):
    """Snapshot every open market that has none in the current 15-minute slot; returns how many.

    The slot makes it idempotent: a second run in the same slot, or a run after a crash
    half-way, writes only what is missing.
    """
    slot_start = now - (now - now.replace(minute=0, second=0, microsecond=0)) % SNAPSHOT_SLOT
    done = MarketSnapshot.objects.filter(taken_at__gte=slot_start, taken_at__lt=slot_start + SNAPSHOT_SLOT)
    missing = Market.objects.filter(status=Market.Status.OPEN).exclude(pk__in=done.values("market_id"))
    taken = 0
    for chunk in _chunks(missing.only(*STATE_FIELDS).order_by("pk").iterator(chunk_size=2000), 2000):
        market_snapshot_take(markets=chunk, at=now)
        taken += len(chunk)
    return taken


def _chunks(iterable, size):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
