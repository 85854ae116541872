"""Start Django for a benchmark: production-like settings and a throw-away database."""
import io
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedproject.settings")
    os.environ.setdefault("DJANGO_DEBUG", "0")  # DEBUG keeps every query in memory
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))  # a throw-away process
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    import django

    django.setup()
    from django.db import connection

    # A fresh test_<name> database beside the configured one, dropped by teardown().
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return connection


def serving_setup():
    """In a fresh process on a prepared database: Django as a web process holds it, the WSGI handler
    and the bench service's authorization header."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedproject.settings")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))  # a throw-away process
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from rest_framework.authtoken.models import Token

    token = Token.objects.get(user__username="bench-service").key
    return WSGIHandler(), {"Authorization": f"Token {token}"}


def teardown(connection):
    connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def wsgi_request(handler, method, path, *, body=b"", headers=None, body_written=None):
    """One request through Django's WSGI handler, as gunicorn makes it, minus the socket.

    Returns (status code, body bytes). Django's test Client is not used: it connects a signal
    receiver per request, and the finalizers that leaves behind slow every later request.
    """
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "localhost",
        "SERVER_PORT": "80", "HTTP_HOST": "localhost", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    status = []
    chunks = handler(environ, lambda code, response_headers, exc_info=None: status.append(code))
    try:
        content = b"".join(chunks)
        if body_written is not None:  # when a server would have written the body to the client
            body_written.append(time.perf_counter())
    finally:
        chunks.close()
    return int(status[0].split()[0]), content
