"""The settings fail closed: production mode unless debug is asked for, and no start without a real key."""
import os
import subprocess
import sys

from feedproject.settings import BASE_DIR

PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DEBUG, settings.SECURE_HSTS_SECONDS)"
)


def _start(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, capture_output=True, text=True, timeout=60,
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
    started = _start(DJANGO_SECRET_KEY="k3y-" + "0123456789abcdef" * 4)
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["False", str(365 * 24 * 3600)]


def test_development_mode_is_asked_for_explicitly_and_needs_no_key():
    started = _start(DJANGO_DEBUG="1")
    assert started.returncode == 0, started.stderr
    assert started.stdout.split()[0] == "True"
