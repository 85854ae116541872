"""The system of `make run`: beat sends the registered periodic tasks through the broker, the worker
runs them, and the velocity it writes counts events sent to the web process a moment before.

Runs on the filesystem broker of the embedded defaults, or on Redis when REDIS_URL is set. The
database of the system under test is a SQLite file of its own either way. Takes about a
minute: beat fires on the next minute boundary.
"""
import json
import os
import sqlite3
import urllib.error
import urllib.request
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone
from pathlib import Path

import pytest

from feedproject.tests.procfile_system import procfile_system, wait_until

BROKERS = ["redis"] if os.environ.get("REDIS_URL") else ["filesystem"]  # the broker this pass is about


@pytest.fixture(params=BROKERS)
def system(request, tmp_path):
    setup = [["migrate", "--noinput", "-v0"], ["seed_demo", "--if-empty", "--markets", "20", "--users", "0"],
             ["setup_periodic_tasks"]]
    with procfile_system(tmp_path, keep_redis=request.param == "redis", setup=setup) as system:
        yield system


@pytest.mark.other_process_clock
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
        wait_until(lambda: velocity() == (3, 1), 100, "beat to send velocity_refresh and the worker to run it",
                   interval=0.5)
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
