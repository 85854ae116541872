"""Writes to the catalog that other parts of the system must hear about."""
import logging
import time

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from markets.models import Market, MarketSnapshot

logger = logging.getLogger(__name__)
CATALOG_VERSION_KEY = "catalog:version"
STATE_FIELDS = ("probability", "volume_24h", "volume_total", "participant_count", "status")


def catalog_version_bump():
    """Tell every process that caches catalog arrays to reload them. A cache that is down is not an error:
    readers fall back to a short refresh interval (see personalization selectors)."""
    try:
        cache.set(CATALOG_VERSION_KEY, time.time_ns(), None)
    except Exception:  # noqa: BLE001 - Redis down must not fail a write to the database
        logger.warning("catalog version bump failed: cache unavailable", exc_info=True)


def market_snapshot_take(*, markets, at):
    """One snapshot per market of its current state."""
    MarketSnapshot.objects.bulk_create(
        [
            MarketSnapshot(
                market=m, taken_at=at, probability=m.probability, volume_24h=m.volume_24h,
                volume_total=m.volume_total, participant_count=m.participant_count,
            )
            for m in markets
        ]
    )


@transaction.atomic
def market_state_update(*, market_id, changes, at=None):
    """Apply state pushed by the trading backend; write a snapshot when anything changed.

    Returns (market, changed_field_names). Raises Market.DoesNotExist for an unknown id.
    """
    at = at or timezone.now()
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
