"""The system of `make run`: beat sends the registered periodic tasks through the broker, the worker
runs them, and the velocity it writes counts events sent to the web process a moment before.

Runs on the filesystem broker of the embedded defaults, or on Redis when REDIS_URL is set. The
database of the system under test is a SQLite file of its own either way. Takes about a
minute: beat fires on the next minute boundary.
"""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone as dt_timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROKERS = ["redis"] if os.environ.get("REDIS_URL") else ["filesystem"]  # the broker this pass is about


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
        except (OSError, sqlite3.OperationalError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(params=BROKERS)
def system(request, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    if request.param == "filesystem":
        env.pop("REDIS_URL", None)
    env.update(FEED_VAR_DIR=str(tmp_path), PORT=str(port), PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo", "--if-empty", "--markets", "20", "--users", "0"],
                    ["setup_periodic_tasks"]):
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True)
    log = open(tmp_path / "honcho.log", "w")
    honcho = subprocess.Popen(
        [sys.executable, "-m", "honcho", "-f", "Procfile", "start"], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: urllib.request.urlopen(f"{url}/api/markets?limit=1", timeout=2).status == 200, 60, "web")
        yield {"url": url, "db": tmp_path / "db.sqlite3", "log": tmp_path / "honcho.log"}
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
        log.close()


def test_beat_and_the_worker_keep_velocity_current(system):
    markets = json.load(urllib.request.urlopen(f"{system['url']}/api/markets?limit=1"))["results"]
    market_id = markets[0]["market_id"]
    now = datetime.now(dt_timezone.utc).isoformat()
    body = json.dumps({"events": [
        {"event_id": str(uuid.uuid4()), "event_type": "view_market", "market_id": market_id, "occurred_at": now,
         "geo_country": "IL"} for _ in range(3)
    ]}).encode()
    request = urllib.request.Request(f"{system['url']}/api/track", body, {"Content-Type": "application/json"})
    assert json.load(urllib.request.urlopen(request))["accepted"] == 3

    def velocity():
        with sqlite3.connect(system["db"]) as db:
            return db.execute(
                "SELECT v.views_5m, v.unique_users_5m FROM markets_marketvelocity v "
                "JOIN markets_market m ON m.id = v.market_id WHERE m.market_id = ? AND v.scope = 'IL'",
                [market_id],
            ).fetchone()

    try:
        _wait(lambda: velocity() == (3, 1), 100, "beat to send velocity_refresh and the worker to run it")
    except AssertionError:
        raise AssertionError(Path(system["log"]).read_text()[-3000:]) from None
    with sqlite3.connect(system["db"]) as db:
        ran = dict(db.execute("SELECT name, runs_total FROM ops_taskrun WHERE last_success_at IS NOT NULL"))
    assert ran.get("markets.velocity_refresh", 0) >= 1
    try:
        health = json.load(urllib.request.urlopen(f"{system['url']}/healthz"))
    except urllib.error.HTTPError as error:  # 503 until the 5-minute tasks have run once
        health = json.load(error)
    assert health["tasks"]["markets.velocity_refresh"]["ok"] is True
    assert health["checks"]["broker"]["ok"] is True
    log = Path(system["log"]).read_text()
    assert "markets.velocity_refresh" in log and "DatabaseScheduler" in log
