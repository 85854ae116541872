"""The system of `make run` for system tests: web, Celery worker and beat from the Procfile, in
their own processes, on a SQLite file of their own under the test's temporary directory."""
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.3):
    """Poll `predicate` until true; a connection refused or a locked SQLite file counts as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, sqlite3.OperationalError):
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def procfile_system(tmp_path, *, keep_redis, setup):
    """Run `setup` (manage.py argument lists), then the Procfile as `make run` does until the block ends.

    Yields {"url", "env", "db", "log"}. DATABASE_URL is always dropped (the system's database
    is tmp_path/db.sqlite3); REDIS_URL too unless `keep_redis`.
    """
    port = free_port()
    dropped = {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"} | (set() if keep_redis else {"REDIS_URL"})
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(FEED_VAR_DIR=str(tmp_path), PORT=str(port), PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    for command in setup:
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    log_path = tmp_path / "honcho.log"
    with open(log_path, "w") as log:
        honcho = subprocess.Popen(
            [sys.executable, "procfile_start.py"], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: urllib.request.urlopen(f"{url}/api/markets?limit=1", timeout=2).status == 200,
                       60, "the web process")
            yield {"url": url, "env": env, "db": tmp_path / "db.sqlite3", "log": log_path}
        finally:
            os.killpg(honcho.pid, signal.SIGTERM)
            try:
                honcho.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
