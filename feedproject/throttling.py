"""Request rates per client that fail open: throttling never turns into a 500.

A module of its own: DRF imports throttle classes while its views are loading.
"""
from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from feedproject.cache import outage_log
from feedproject.identity import anonymous_key_presented


def client_address(request):
    """REMOTE_ADDR, or the first X-Forwarded-For hop when settings trust the proxy that sets it."""
    if settings.THROTTLE_TRUST_X_FORWARDED_FOR:
        first_hop = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[0].strip()
        if first_hop:
            return first_hop[:64]
    return request.META.get("REMOTE_ADDR") or "unknown"


class _FixedWindowThrottle(SimpleRateThrottle):
    """A counter per client and window (the rate's period), counted with the cache's atomic incr.

    DRF's own throttle reads a history list, appends and writes it back: concurrent requests of
    one client overwrite each other's entries and go uncounted. `add` then `incr` is one INCR on
    Redis and runs under the cache's lock on LocMemCache, so every request is counted once.
    A window boundary may let a client through up to twice its rate within one period; for a
    limit against abuse that is fine, and it costs one cache round trip instead of a list.

    When the cache is down the request goes through: throttling never turns into a 500.
    """

    def get_ident(self, request):
        return client_address(request)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        key = f"{ident}:{window}"
        try:
            count = self._count(key)
        except Exception:  # noqa: BLE001 - the cache backend's errors are not ours to surface
            outage_log.failure("throttle (request allowed)", key)
            return True
        return count <= self.num_requests

    def _count(self, key):
        # The key names its window, so living one period from its first request covers the window.
        for _ in range(2):
            self.cache.add(key, 0, self.duration)
            try:
                return self.cache.incr(key)
            except ValueError:  # expired between add and incr, at the window's very end: once more
                continue
        return 1

    def wait(self):
        """Seconds until this window ends: DRF sends it as Retry-After."""
        return max(self.window_end - self.now, 0.0)


class AnonThrottle(_FixedWindowThrottle):
    """Per anonymous visitor with a valid signed key (many visitors share one address behind a
    proxy), else per client address. Only a verified key names a visitor: an unverified header
    would let a client invent a fresh budget for every request."""

    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None  # UserThrottle's business
        user_key = anonymous_key_presented(request)
        ident = user_key if user_key is not None else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class UserThrottle(_FixedWindowThrottle):
    """Per account; a service token counts against the token's user."""

    scope = "user"

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None  # AnonThrottle's business
        return self.cache_format % {"scope": self.scope, "ident": f"u:{request.user.pk}"}
