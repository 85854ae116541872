"""Who is calling: a logged-in user, a signed anonymous key, or a service acting for users.

- An authenticated user is `u:<id>`.
- An anonymous visitor carries a key signed by the server (cookie `feed_uk` or header
  `X-User-Key`). A missing, tampered or expired key gets a fresh anonymous key, so it
  can never reach another user's data.
- A DRF token whose user has the `tracking.act_for_any_user` permission is a service: it
  may name any `user_key` (query parameter or per event). A browser session never is.
- A DRF token whose user has the `ops.replay_as_of` permission may act at a given time: pass
  `as_of` (replays, evaluators; docs/replay.md). A separate permission: acting for users does not
  let a token move the clock, nor the reverse.
"""
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ValidationError

from feedproject.cache import cache_get, cache_set

_SIGNER_SALT = "feed.anonymous-user-key"
SERVICE_PERMISSION = "tracking.act_for_any_user"
REPLAY_PERMISSION = "ops.replay_as_of"
SERVICE_CHECK_SECONDS = 60  # a revoked service or replay permission stops working within this time
USER_KEY_HEADER = "HTTP_X_USER_KEY"
_UNSIGNED_KEY = re.compile(r"^a:[0-9a-f]{32}$")


@dataclass(frozen=True)
class Caller:
    user_key: str
    is_service: bool = False
    is_staff: bool = False
    issued_token: str | None = None  # a new signed anonymous key to hand back


def anonymous_key_sign(user_key):
    return signing.TimestampSigner(salt=_SIGNER_SALT).sign(user_key)


def anonymous_key_unsign(token):
    """The user_key inside a valid token, or None for a missing, tampered or expired one."""
    if not token:
        return None
    try:
        value = signing.TimestampSigner(salt=_SIGNER_SALT).unsign(token, max_age=settings.ANON_KEY_MAX_AGE)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    return value if value.startswith("a:") else None


def anonymous_key_presented(request):
    """The user_key of the valid signed key the request carries (header, else cookie), or None.

    A header holding a bare user_key (`a:<32 hex>`, what `user_key` shows) is a client bug that would
    silently start a new visitor and lose the old one's history: it is a 400 that says what to send."""
    header = request.META.get(USER_KEY_HEADER)
    if header and _UNSIGNED_KEY.match(header):
        raise ValidationError({"X-User-Key": [
            "This is a user_key, not the signed key: send the anon_key an earlier answer gave you "
            "(the user key followed by its signature), unchanged."
        ]})
    return anonymous_key_unsign(header or request.COOKIES.get(settings.ANON_KEY_COOKIE))


def anonymous_key_new():
    user_key = f"a:{uuid.uuid4().hex}"
    return user_key, anonymous_key_sign(user_key)


def caller_resolve(request, *, acting_for=None):
    """The Caller of a DRF request. `acting_for` is a user_key a service asks to act as."""
    user = request.user
    if user is not None and user.is_authenticated:
        # A service is a token, not a browser session: an editor logged into admin is u:<id>.
        if isinstance(request.auth, Token) and _is_service(user):
            return Caller(user_key=acting_for or f"svc:{user.pk}", is_service=True, is_staff=user.is_staff)
        return Caller(user_key=f"u:{user.pk}", is_staff=user.is_staff)
    user_key = anonymous_key_presented(request)
    if user_key is not None:
        return Caller(user_key=user_key)
    user_key, token = anonymous_key_new()
    return Caller(user_key=user_key, issued_token=token)


def replay_allowed(request):
    """Whether the DRF request comes with a token whose user holds REPLAY_PERMISSION (a session never does)."""
    user = request.user
    return bool(user is not None and user.is_authenticated and isinstance(request.auth, Token)
                and _has_perm_cached(user, REPLAY_PERMISSION, "replay"))


def _is_service(user):
    return _has_perm_cached(user, SERVICE_PERMISSION, "service")


def _has_perm_cached(user, permission, kind):
    """The permission check costs two queries; services call on every request, so it is cached a minute."""
    key = f"identity:{kind}:{user.pk}"
    cached, ok = cache_get(key)
    if cached is None:
        cached = user.has_perm(permission)
        if ok:
            cache_set(key, cached, SERVICE_CHECK_SECONDS)
    return cached
