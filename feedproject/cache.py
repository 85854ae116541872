"""Cache calls that never fail a request: Redis is a cache here, the database is the truth."""
import logging
import threading
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)
_MISSING = object()

OUTAGE_LOG_INTERVAL = 60.0  # seconds between two outage warnings of one process


class _OutageLog:
    """Logs a cache outage once per interval instead of once per call.

    While Redis is down every cache miss fails; a traceback each time is thousands a minute
    (megabytes of log) and hides everything else. The first failure is logged with its
    traceback, then at most one warning per interval with the count since. Per process, under a
    lock because request threads share it. time.monotonic: this paces a log, it is not business
    time, and a wall-clock jump must not silence or flood it.
    """

    def __init__(self, interval=OUTAGE_LOG_INTERVAL, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._failing = False
        self._suppressed = 0
        self._last_logged = 0.0

    def failure(self, what, key):
        now = self.clock()
        with self._lock:
            if not self._failing:
                self._failing, self._suppressed, self._last_logged = True, 0, now
                first, count = True, 0
            elif now - self._last_logged >= self.interval:
                first, count = False, self._suppressed + 1
                self._suppressed, self._last_logged = 0, now
            else:
                self._suppressed += 1
                return
        if first:
            logger.warning("cache %s %s failed: cache unavailable", what, key, exc_info=True)
        else:
            logger.warning("cache still unavailable: %d failed calls in the last %.0f s (latest: %s %s)",
                           count, self.interval, what, key)

    def reset(self):
        """Forget an outage in progress (the test suite starts each test with a reachable cache)."""
        with self._lock:
            self._failing, self._suppressed = False, 0

    def success(self):
        if not self._failing:  # the common case reads one attribute, no lock
            return
        with self._lock:
            if not self._failing:
                return
            suppressed, self._failing, self._suppressed = self._suppressed, False, 0
        logger.warning("cache reachable again (%d failed calls since the last warning)", suppressed)


outage_log = _OutageLog()


def cache_get(key, default=None):
    """(value, ok): ok is False when the cache could not be reached."""
    try:
        value = cache.get(key, _MISSING)
    except Exception:  # noqa: BLE001 - any backend error means "no cache", never a 500
        outage_log.failure("get", key)
        return default, False
    outage_log.success()
    return (default if value is _MISSING else value), True


def cache_set(key, value, timeout=None):
    try:
        cache.set(key, value, timeout)
    except Exception:  # noqa: BLE001
        outage_log.failure("set", key)
        return False
    outage_log.success()
    return True
