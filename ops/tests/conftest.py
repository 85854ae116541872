import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shared_database(tmp_path):
    """Environment variables that point a new process at a database this test can see too.

    PostgreSQL: the test database itself (use with transaction=True). SQLite: the test
    database lives in memory, so the processes share a migrated file of their own instead,
    as web, worker and beat share one on the embedded defaults.
    """
    env = {"DJANGO_SETTINGS_MODULE": "feedproject.settings"}
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        env["DATABASE_URL"] = (
            f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"
        )
        return env
    env["FEED_VAR_DIR"] = str(tmp_path)
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env={**clean, **env}, check=True)
    return env
