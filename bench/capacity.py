"""Capacity of one node on loopback (issue 5): gunicorn with the production settings,
PostgreSQL, Redis, a Celery worker and beat, under a mix of feed requests and event
batches from many visitors, at several concurrency levels.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python bench/capacity.py --markets 10000 --concurrency 4 16 64 --seconds 30

Needs wrk (`apt-get install wrk`). Creates and drops its own database `feed_capacity` on
the server of DATABASE_URL. The mix (bench/capacity.lua): 40 % GET /api/feed?limit=20,
40 % POST /api/impressions with 10 impressions, 20 % POST /api/track with 5 events —
about what a feed page view produces (one feed, a batch of seen cards, a few actions).
Each level is followed by the same-run baseline: GET /healthz (a database query, a cache
and a broker ping, the periodic tasks' last runs) at the same concurrency: what the same
gunicorn, middleware and connections carry for a request that ranks and writes nothing.
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "feed_capacity"


def db_url(base):
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{DB_NAME}"))


def admin_sql(base, sql):
    import psycopg

    parts = urlsplit(base)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql)


def prepare(env, args, workdir):
    """A fresh database with the catalog, velocity rows, and the files wrk reads."""
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    script = f"""
import random, sys
sys.path.insert(0, "bench")
import feed
from django.utils import timezone
from feedproject.identity import anonymous_key_sign
rng = random.Random(5)
markets = feed.build_catalog({args.markets}, rng, timezone.now())
open("{workdir}/markets.txt", "w").write("\\n".join(m.market_id for m in markets))
open("{workdir}/users.txt", "w").write("\\n".join(anonymous_key_sign(f"a:cap{{i:08d}}") for i in range({args.users})))
"""
    subprocess.run([*manage, "shell", "-c", script], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "setup_periodic_tasks"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*manage, "run_periodic_tasks"], cwd=ROOT, env=env, check=True, capture_output=True)


def start(env, args, logs):
    bin_dir = Path(sys.executable).parent
    commands = {
        "web": [str(bin_dir / "gunicorn"), "feedproject.wsgi", "--bind", f"127.0.0.1:{args.port}",
                "--workers", str(args.web_workers), "--worker-class", "sync", "--backlog", "2048",
                "--access-logfile", "-", "--log-level", "warning"],
        "worker": [str(bin_dir / "celery"), "-A", "feedproject", "worker", "--concurrency", "1", "-l", "WARNING"],
        "beat": [str(bin_dir / "celery"), "-A", "feedproject", "beat", "-l", "WARNING"],
    }
    procs = {}
    for name, cmd in commands.items():
        log = open(logs / f"{name}.log", "w")
        web_env = {**env, "GUNICORN_CMD_ARGS": ""}
        procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=web_env, stdout=log if name != "web" else subprocess.DEVNULL,
                                       stderr=log, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/healthz", timeout=2) as r:
                if r.status in (200, 503):
                    return procs
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the web process did not answer /healthz")


def stop(procs):
    for proc in procs.values():
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for proc in procs.values():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def load(args, workdir, concurrency, baseline=False):
    env = {**os.environ, "CAPACITY_USERS": f"{workdir}/users.txt", "CAPACITY_MARKETS": f"{workdir}/markets.txt",
           "CAPACITY_BASELINE": "1" if baseline else "0"}
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(concurrency), "-d", f"{args.seconds}s", "--timeout", "10s",
         "-s", str(ROOT / "bench" / "capacity.lua"), f"http://127.0.0.1:{args.port}"],
        env=env, capture_output=True, text=True,
    )
    if out.returncode:
        raise SystemExit(f"wrk failed: {out.stderr or out.stdout}")
    out = out.stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8871)
    args = parser.parse_args()
    base, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not base.startswith("postgres") or not redis_url or not shutil.which("wrk"):
        raise SystemExit("needs DATABASE_URL (PostgreSQL), REDIS_URL and wrk")
    admin_sql(base, f"DROP DATABASE IF EXISTS {DB_NAME}")
    admin_sql(base, f"CREATE DATABASE {DB_NAME}")
    workdir = Path(tempfile.mkdtemp(prefix="capacity-"))
    env = {
        **os.environ, "DATABASE_URL": db_url(base), "REDIS_URL": redis_url, "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING",
    }
    procs = {}
    try:
        t0 = time.perf_counter()
        prepare(env, args, workdir)
        print(f"prepared {args.markets} markets, {args.users} visitors in {time.perf_counter() - t0:.0f} s")
        procs = start(env, args, workdir)
        load(args, workdir, 4)  # warm-up: every worker loads its catalog arrays
        print(f"gunicorn {args.web_workers} sync workers + Celery worker + beat, PostgreSQL + Redis, "
              f"{args.seconds} s per level, mix 40 % feed / 40 % impressions x10 / 20 % track x5")
        print(f"{'connections':>11} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}"
              f" {'healthz req/s':>14} {'healthz p50':>12}")
        results = []
        for concurrency in args.concurrency:
            r = load(args, workdir, concurrency)
            b = load(args, workdir, concurrency, baseline=True)
            results.append({"connections": concurrency, **r, "baseline_healthz": b})
            errors = r["non_2xx"] + r["socket_errors"]
            print(f"{concurrency:>11} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
                  f"{r['p99_ms']:>8.1f} {errors:>7} {b['rps']:>14.0f} {b['p50_ms']:>12.1f}")
        with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/healthz", timeout=5) as r:
            health = json.load(r)
        print(f"healthz after the run: {health['status']}")
        print(json.dumps(results))
    finally:
        stop(procs)
        shutil.rmtree(workdir, ignore_errors=True)
        admin_sql(base, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
