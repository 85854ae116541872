"""JSON error answers for paths under /api/, so an API client never has to parse an HTML page.

The body has the shape DRF gives its own errors: {"detail": "..."}. Pages outside /api/ (the demo,
the admin) keep Django's HTML answers.
"""
import logging

from django.db import InterfaceError, OperationalError, connections
from django.http import JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

# A lost connection is usually back on the next request (a new connection); a failover or a
# restart takes seconds to a minute. Clients retry after this many seconds.
DATABASE_RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable; retry the request shortly."
    default_code = "database_unavailable"
    wait = DATABASE_RETRY_AFTER_SECONDS  # DRF's handler sends it as Retry-After


def error_summary(exc):
    """`Type: first line of the message` (at most 200 characters): a database error in one log line."""
    return f"{type(exc).__name__}: {str(exc).strip().partition(chr(10))[0][:200]}"


def api_exception_handler(exc, context):
    """EXCEPTION_HANDLER of every API view: DRF's, plus a database outage answered 503, not 500.

    OperationalError and InterfaceError are the database unreachable or the connection lost
    (server restart, connection killed, SQLite busy): nothing was stored, since the view's
    transaction was rolled back, and the same request may succeed in a moment. Any other
    error stays a 500 (handler500 below).
    """
    if _is_outage(exc):
        # One line, no traceback: during an outage every request fails the same way.
        logger.warning("database unavailable, answered 503: %s", error_summary(exc))
        exc = DatabaseUnavailable()
    return exception_handler(exc, context)


def _is_outage(exc):
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    # Django leaves a few driver calls unwrapped (closing a server-side cursor, which a killed
    # connection refuses with psycopg's own AdminShutdown), so the driver's classes count too.
    return any(isinstance(exc, (db.Database.OperationalError, db.Database.InterfaceError))
               for db in connections.all(initialized_only=True))


def _is_api(request):
    return request.path.startswith("/api/")


# Exempt so that a POST to an unknown path is a 404, not CSRF's HTML 403: there is nothing to protect.
@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """The last /api/ route: any path no API view claimed, with any method."""
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request, *args, **kwargs):
    """handler500: JSON under /api/, Django's page elsewhere. Says nothing of the error itself."""
    if _is_api(request):
        return JsonResponse({"detail": "A server error occurred."}, status=500)
    return defaults.server_error(request, *args, **kwargs)
