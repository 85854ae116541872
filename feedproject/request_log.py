"""One log line per request, with a request id and the kind of caller (format: docs/runbook.md, "Logs").

The line is the only per-request record: Django's own status warnings ("Not Found: ...") and the
development server's access lines are dropped by `DuplicateRequestLogFilter`, while a traceback
(an uncaught exception, a 500) is kept and tagged with the same request id.
"""
import logging
import re
import time
import uuid
from urllib.parse import quote

from django.utils.functional import SimpleLazyObject, empty

logger = logging.getLogger("feedproject.request")

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's or client's id is kept when it is short and plain (a UUID, a trace id); anything else
# (too long, spaces, quotes, newlines that could forge a log line) is replaced by a new one.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def request_id(request):
    """The id the middleware gave this request (a Django or DRF request), or "-" outside one."""
    return getattr(request, "request_id", "-")


def caller_kind(request):
    """anonymous / user / service, from what answering the request already resolved; never the key.

    A CallerApi view's Caller says it; otherwise the user that DRF authentication or the admin's
    session lookup put on the request. Nothing is looked up here: a request that never asked who
    is calling (a page, /healthz, an unknown path) is anonymous.
    """
    caller = getattr(request, "_feed_caller", None)
    if caller is not None:
        if caller.is_service:
            return "service"
        return "anonymous" if caller.user_key.startswith("a:") else "user"
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return "anonymous"
    return "user" if user is not None and user.is_authenticated else "anonymous"


def _level(status):
    if status >= 500:
        return logging.ERROR
    return logging.WARNING if status >= 400 else logging.INFO


class RequestLogMiddleware:
    """First in MIDDLEWARE: gives the request its id, answers it in X-Request-ID, logs the line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        logger.log(
            _level(response.status_code),
            "request id=%s method=%s path=%s status=%s ms=%.1f caller=%s",
            request.request_id,
            quote(request.method or "-", safe="", errors="backslashreplace")[:16],
            # The path only: the query string may carry a user_key.
            quote(request.path, safe=_PATH_SAFE, errors="backslashreplace")[:512],
            response.status_code,
            (time.monotonic() - started) * 1000,
            caller_kind(request),
        )
        return response


class DuplicateRequestLogFilter(logging.Filter):
    """On `django.request` and `django.server`: drops what repeats the request line, keeps tracebacks.

    Both loggers put the response's `status_code` on their per-request records. A record with an
    exception (the traceback of a 500) is kept and gets the request id appended.
    """

    def filter(self, record):
        if not hasattr(record, "status_code"):
            return True  # not about one request's status: e.g. the dev server's "Broken pipe"
        if not record.exc_info:
            return False
        if getattr(record, "request_id_appended", False):
            return True  # this filter twice on a logger (logging configured again in the process)
        record.request_id_appended = True
        record.msg = f"{record.msg} id=%s"
        record.args = (*(record.args or ()), request_id(getattr(record, "request", None)))
        return True
