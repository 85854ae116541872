"""The settings fail closed: production mode unless debug is asked for, and no start without a real key."""
import json
import os
import subprocess
import sys

from feedproject.settings import BASE_DIR

PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DEBUG, settings.SECURE_HSTS_SECONDS)"
)


# One request to the demo page (no query) behind the proxy, as https and as plain http.
REQUEST_PROBE = (
    "import django, json; django.setup(); from django.test import Client; "
    "https = Client().get('/', HTTP_X_FORWARDED_PROTO='https'); http = Client().get('/'); "
    "print(json.dumps({'https': [https.status_code, https.headers.get('Strict-Transport-Security'), "
    "https.headers.get('Content-Security-Policy')], 'http': [http.status_code, http.headers.get('Location'), "
    "http.headers.get('Strict-Transport-Security')]}))"
)
REAL_KEY = "k3y-" + "0123456789abcdef" * 4


def _start(probe=PROBE, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "-c", probe], cwd=BASE_DIR, capture_output=True, text=True, timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "feedproject.settings", **env},
    )


def test_with_nothing_set_it_is_production_mode_and_refuses_to_start_without_a_key():
    started = _start()
    assert started.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in started.stderr and "DJANGO_DEBUG=1" in started.stderr


def test_a_short_or_repetitive_secret_key_is_refused_in_production_mode():
    assert _start(DJANGO_SECRET_KEY="too-short").returncode != 0
    assert _start(DJANGO_SECRET_KEY="a" * 60).returncode != 0


def test_with_a_real_key_production_mode_starts_with_a_year_of_hsts():
    started = _start(DJANGO_SECRET_KEY=REAL_KEY)
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["False", str(365 * 24 * 3600)]


def test_in_production_mode_an_https_request_gets_a_year_of_hsts_and_plain_http_is_redirected():
    started = _start(REQUEST_PROBE, DJANGO_SECRET_KEY=REAL_KEY)
    assert started.returncode == 0, started.stderr
    answers = json.loads(started.stdout.strip().splitlines()[-1])
    status, hsts, csp = answers["https"]
    assert status == 200
    assert hsts == "max-age=31536000; includeSubDomains; preload"
    assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp
    # HSTS is only ever sent over https (browsers ignore it on http): plain http is sent there first.
    assert answers["http"] == [301, "https://testserver/", None]


def test_development_mode_is_asked_for_explicitly_and_needs_no_key():
    started = _start(DJANGO_DEBUG="1")
    assert started.returncode == 0, started.stderr
    assert started.stdout.split()[0] == "True"
