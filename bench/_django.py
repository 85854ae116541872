"""Start Django for a benchmark: production-like settings and a throw-away database."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedproject.settings")
    os.environ.setdefault("DJANGO_DEBUG", "0")  # DEBUG keeps every query in memory
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    import django

    django.setup()
    from django.db import connection

    # A fresh test_<name> database beside the configured one, dropped by teardown().
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return connection


def teardown(connection):
    connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
