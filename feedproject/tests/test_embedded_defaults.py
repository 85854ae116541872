"""The first README command's system on the embedded defaults: web, Celery worker and beat
on SQLite and the filesystem broker, started from the Procfile as `make run` does."""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL")),
    reason="proves the embedded defaults; runs in the pass without DATABASE_URL / REDIS_URL",
)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def system(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(FEED_VAR_DIR=str(tmp_path), PORT=str(port), PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "seed_demo", "--if-empty", "--markets", "40", "--users", "3"], cwd=ROOT, env=env, check=True)
    log = open(tmp_path / "honcho.log", "w")
    honcho = subprocess.Popen(
        [sys.executable, "-m", "honcho", "-f", "Procfile", "start"], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/api/markets", timeout=2).status == 200, 60, "web")
        yield {"url": f"http://127.0.0.1:{port}", "env": env, "db": tmp_path / "db.sqlite3", "log": tmp_path / "honcho.log"}
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
        log.close()


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
    _wait(lambda: snapshots() > before, 60, "the worker to run the task")
    log = Path(system["log"]).read_text()
    assert "beat: Starting..." in log
    assert "celery@" in log and "ready" in log
