"""Cache calls that never fail a request: Redis is a cache here, the database is the truth."""
import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)
_MISSING = object()


def cache_get(key, default=None):
    """(value, ok): ok is False when the cache could not be reached."""
    try:
        value = cache.get(key, _MISSING)
    except Exception:  # noqa: BLE001 - any backend error means "no cache", never a 500
        logger.warning("cache get %s failed", key, exc_info=True)
        return default, False
    return (default if value is _MISSING else value), True


def cache_set(key, value, timeout=None):
    try:
        cache.set(key, value, timeout)
        return True
    except Exception:  # noqa: BLE001
        logger.warning("cache set %s failed", key, exc_info=True)
        return False
