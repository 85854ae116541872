"""Request rates per client that fail open: throttling never turns into a 500.

A module of its own: DRF imports throttle classes while its views are loading.
"""
import logging

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from feedproject.identity import USER_KEY_HEADER

logger = logging.getLogger(__name__)


class _FailOpen:
    """When the cache behind the counters is down, the request goes through."""

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - the cache backend's errors are not ours to surface
            logger.warning("throttle cache unavailable: request allowed", exc_info=True)
            return True


class AnonThrottle(_FailOpen, AnonRateThrottle):
    """Per anonymous visitor key (many visitors share one address behind a proxy), else per address."""

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None  # UserThrottle's business
        key = request.META.get(USER_KEY_HEADER) or request.COOKIES.get(settings.ANON_KEY_COOKIE)
        return self.cache_format % {"scope": self.scope, "ident": key[:80] if key else self.get_ident(request)}


class UserThrottle(_FailOpen, UserRateThrottle):
    """Per account or service token."""
