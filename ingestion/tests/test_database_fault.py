"""PostgreSQL connections killed under a load of track batches: no 500, every acknowledged event stored once.

A gunicorn server in production mode (DEBUG off, behind a TLS proxy as deployed; persistent
connections and health checks as configured) runs on the test database. Client threads send
batches over HTTP and retry one on a 503 or a lost connection with the same event ids, as a
real client does; meanwhile another connection calls pg_terminate_backend on the server's
connections, over and over. The PostgreSQL server is shared: only backends connected to this
test's database under the application name given to its server are terminated (never the
test's own connection nor anyone else's), and the server itself is never restarted.
"""
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.db.models import Count, Sum
from rest_framework.authtoken.models import Token

from feedproject.tests.procfile_system import ROOT, free_port, wait_until
from markets.tests.factories import MarketFactory
from personalization.models import UserProfile
from tracking.models import Interaction, MarketActivity

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the server process must see the rows the test commits
    pytest.mark.other_process_clock,
]

CLIENTS = 4
BATCHES_PER_CLIENT = 25
EVENTS_PER_BATCH = 20
MAX_ATTEMPTS = 30  # per batch; a batch still unanswered after them fails the test
RETRY_PAUSE = 0.05  # seconds; shorter than Retry-After, to keep the test short
BEHIND_PROXY = {"X-Forwarded-Proto": "https"}  # as the TLS proxy says; else production mode redirects
KILL_EVERY = 0.2  # seconds between two rounds of pg_terminate_backend: longer than a request, or none would get through


def _server_env(port, application_name):
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}?application_name={application_name}",
        DJANGO_DEBUG="0", DJANGO_SECRET_KEY=secrets.token_urlsafe(50), PORT=str(port),
        THROTTLE_USER="1000000/minute", THROTTLE_ANON="1000000/minute",
    )
    return env


class Terminator(threading.Thread):
    """Terminates, every KILL_EVERY seconds, the backends of the test's server: connected to the
    test database under the server's application name, which no other process uses."""

    def __init__(self, database, application_name):
        super().__init__(daemon=True)
        db = connection.settings_dict
        self.conninfo = dict(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres")
        self.database, self.application_name = database, application_name
        self.stop, self.terminated = threading.Event(), 0

    def run(self):
        with psycopg.connect(**self.conninfo, autocommit=True) as killer:
            while not self.stop.wait(KILL_EVERY):
                rows = killer.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND application_name = %s AND pid <> pg_backend_pid()",
                    [self.database, self.application_name],
                ).fetchall()
                self.terminated += sum(1 for (done,) in rows if done)


def _post(url, token, body):
    """(status, parsed body or None); status None for a connection lost or refused."""
    request = urllib.request.Request(
        f"{url}/api/track", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}", **BEHIND_PROXY},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None, None


@dataclass
class Load:
    """What the clients saw, shared by their threads."""

    statuses: Counter = field(default_factory=Counter)  # HTTP status, None for a lost connection
    acknowledged: list = field(default_factory=list)  # event ids answered accepted or duplicate
    duplicates: int = 0
    rejected: int = 0
    unanswered: int = 0  # batches given up after MAX_ATTEMPTS
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(url, token, market_id, number, load):
    for batch in range(BATCHES_PER_CLIENT):
        now = datetime.now(UTC).isoformat()
        body = {
            "user_key": f"u:fault-{(number + batch) % 3}",  # users shared by clients: concurrent batches of one user
            "events": [
                {"event_id": str(uuid.uuid4()), "event_type": "click", "market_id": market_id, "occurred_at": now}
                for _ in range(EVENTS_PER_BATCH)
            ],
        }
        for _ in range(MAX_ATTEMPTS):
            status, answer = _post(url, token, body)
            with load.lock:
                load.statuses[status] += 1
                if status == 200:
                    load.acknowledged.extend(
                        r["event_id"] for r in answer["results"] if r["status"] in ("accepted", "duplicate")
                    )
                    load.duplicates += answer["duplicate"]
                    load.rejected += answer["rejected"]
            if status not in (503, None):
                break  # a client retries an outage, not an answer or an error of its request
            time.sleep(RETRY_PAUSE)
        else:
            with load.lock:
                load.unanswered += 1


def test_killed_connections_under_load_give_no_500_and_lose_or_double_no_event(tmp_path, capsys):
    if connection.vendor != "postgresql":
        pytest.skip("kills PostgreSQL backends with pg_terminate_backend; SQLite has no server connections")
    market = MarketFactory(market_id="fault-market")
    service = User.objects.create_user("fault-service")
    service.user_permissions.add(Permission.objects.get(codename="act_for_any_user"))
    token = Token.objects.create(user=service).key
    application_name = f"feed-fault-test-{uuid.uuid4().hex[:12]}"

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "gunicorn.log"
    load = Load()
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "feedproject.wsgi:application", "-b", f"127.0.0.1:{port}",
             "-w", "2", "--timeout", "30"],
            cwd=ROOT, env=_server_env(port, application_name), stdout=log, stderr=subprocess.STDOUT,
        )
        terminator = Terminator(connection.settings_dict["NAME"], application_name)
        try:
            probe = urllib.request.Request(f"{url}/api/markets?limit=1", headers=BEHIND_PROXY)
            wait_until(lambda: urllib.request.urlopen(probe, timeout=2).status == 200, 30, "gunicorn")
            started = time.monotonic()
            terminator.start()
            clients = [
                threading.Thread(target=_client, args=(url, token, market.market_id, n, load))
                for n in range(CLIENTS)
            ]
            for client in clients:
                client.start()
            for client in clients:
                client.join()
            elapsed = time.monotonic() - started
        finally:
            terminator.stop.set()
            if terminator.is_alive():
                terminator.join()
            server.terminate()
            server.wait(timeout=20)

    stored = {str(row["event_id"]): row["n"] for row in Interaction.objects.values("event_id").annotate(n=Count("id"))}
    acknowledged = set(load.acknowledged)
    sent = CLIENTS * BATCHES_PER_CLIENT * EVENTS_PER_BATCH
    statuses = load.statuses
    counts = (
        f"database fault test: {statuses.total()} requests in {elapsed:.1f} s: {statuses[200]} answered 200,"
        f" {statuses[503]} answered 503, {statuses[None]} lost connections, {statuses[500]} answered 500;"
        f" {terminator.terminated} backends terminated; {sent} events sent, {len(acknowledged)} acknowledged"
        f" ({load.duplicates} as duplicates of an attempt whose answer was lost), {len(stored)} stored"
    )
    with capsys.disabled():  # the counts in CI's output
        print(f"\n{counts}")
    server_log = log_path.read_text()

    assert statuses[500] == 0, server_log[-3000:]
    assert set(statuses) <= {200, 503, None}, (statuses, server_log[-3000:])
    assert load.unanswered == 0 and load.rejected == 0, counts
    assert terminator.terminated > 0 and statuses[503] + statuses[None] > 0, f"the fault never hit a request: {counts}"
    # Every event acknowledged in the end, each stored exactly once...
    assert len(acknowledged) == sent, counts
    assert set(stored) == acknowledged and set(stored.values()) == {1}, counts
    # ... and counted once: user state and activity are written in the raw row's transaction.
    assert UserProfile.objects.aggregate(n=Sum("total_interactions"))["n"] == sent
    assert MarketActivity.objects.filter(scope="global").aggregate(n=Sum("clicks"))["n"] == sent
