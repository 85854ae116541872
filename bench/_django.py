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


def service_create():
    """The bench's service account (a token that may act for any user), which serving_setup reads."""
    from django.contrib.auth.models import Permission, User
    from rest_framework.authtoken.models import Token

    service = User.objects.create_user("bench-service")
    service.user_permissions.add(Permission.objects.get(codename="act_for_any_user"))
    Token.objects.create(user=service)


def serve_in_child(connection, script, argv, env=None):
    """Run `script --serve *argv` in a fresh process on the prepared database (what a web process would
    hold, without this process's setup in memory); returns the JSON of its last output line."""
    import json
    import subprocess

    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}" if connection.vendor == "postgresql" \
        else f"sqlite:///{db['NAME']}"
    connection.close()
    out = subprocess.run(  # noqa: PLW1510 - checked below, with the child's stderr
        [sys.executable, script, "--serve", *argv],
        env={**os.environ, "DATABASE_URL": url, **(env or {})}, capture_output=True, text=True,
    )
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


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
