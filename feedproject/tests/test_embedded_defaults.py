"""The first README command's system on the embedded defaults: web, Celery worker and beat
on SQLite and the filesystem broker, started from the Procfile as `make run` does."""
import json
import os
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from feedproject.tests.procfile_system import ROOT, procfile_system, wait_until

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL")),
    reason="proves the embedded defaults; runs in the pass without DATABASE_URL / REDIS_URL",
)


@pytest.fixture
def system(tmp_path):
    setup = [["migrate", "--noinput", "-v0"], ["seed_demo", "--if-empty", "--markets", "40", "--users", "3"]]
    with procfile_system(tmp_path, keep_redis=False, setup=setup) as system:
        yield system


@pytest.mark.other_process_clock
def test_web_worker_and_beat_run_on_sqlite_and_the_filesystem_broker(system):
    markets = json.load(urllib.request.urlopen(f"{system['url']}/api/markets?limit=5"))
    assert markets["count"] >= 40
    for page in ("/admin/login/", "/api/docs/", "/api/schema/"):
        assert urllib.request.urlopen(system["url"] + page).status == 200

    def snapshots():
        with sqlite3.connect(system["db"]) as db:
            return db.execute("SELECT count(*) FROM markets_marketsnapshot").fetchone()[0]

    before = snapshots()
    # Enqueue through the broker from another process; only the worker can run it.
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from markets.tasks import snapshots_refresh; snapshots_refresh.delay()"],
        cwd=ROOT, env=system["env"], check=True,
    )
    wait_until(lambda: snapshots() > before, 60, "the worker to run the task")
    log = Path(system["log"]).read_text()
    assert "beat: Starting..." in log
    assert "celery@" in log and "ready" in log
