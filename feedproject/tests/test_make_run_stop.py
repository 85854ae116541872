"""Ctrl-C on `make run` stops web, worker and beat cleanly: exit 0, no SIGKILL, no error, in bounded time.

Runs `make run` itself on a terminal of its own (a pty), as a developer does, and types Ctrl-C: the
terminal, not the test, decides which processes get the SIGINT. The database is a SQLite file under
the test's directory, seeded small beforehand so `seed_demo --if-empty` has nothing to do; the broker
is the filesystem's, or Redis in the pass that sets REDIS_URL. Takes 20-40 s.
"""
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from feedproject.tests.procfile_system import ROOT, free_port, wait_until

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

STOP_WITHIN_SECONDS = 25  # measured 7 s on the filesystem broker; honcho's own grace is 30 s
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Terminal:
    """A command on a pty of its own; its output is read as it comes, so it never blocks writing."""

    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: a new session whose controlling terminal is the pty
            os.chdir(ROOT)
            os.execvpe(argv[0], argv, env)
        self._chunks = []
        self.status = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: every process holding the terminal is gone
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    @property
    def output(self):
        return ANSI.sub("", b"".join(self._chunks).decode(errors="replace"))

    def ctrl_c(self):
        os.write(self.fd, b"\x03")

    def wait(self, timeout):
        """The exit status (as subprocess reports it), or None if still running after `timeout`."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._reader.join(5)
                self.status = os.waitstatus_to_exitcode(status)
            elif time.monotonic() > deadline:
                break
            else:
                time.sleep(0.1)
        return self.status

    def kill_all(self):
        """After a failure: everything make and honcho started, each in its own session."""
        pids = [self.pid, *map(int, re.findall(r"started \(pid=(\d+)\)", self.output))]
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        self.wait(5)


@pytest.fixture
def make_run(tmp_path):
    port = free_port()
    dropped = {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"} | (set() if os.environ.get("REDIS_URL") else {"REDIS_URL"})
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(FEED_VAR_DIR=str(tmp_path), PORT=str(port), TERM="dumb")
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo", "--markets", "20", "--users", "0"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    # `-o install`: this suite runs inside the virtualenv `make test` has just installed (VENV says
    # which); `make run` would otherwise reinstall it, here a venv other checkouts share.
    terminal = Terminal(["make", "-o", "install", "run", f"VENV={sys.prefix}"], env)
    try:
        yield terminal, f"http://127.0.0.1:{port}"
    finally:
        if terminal.wait(0) is None:
            terminal.kill_all()


def _up(terminal, url):
    def web():
        with urllib.request.urlopen(f"{url}/api/markets?limit=1", timeout=2) as response:
            return response.status == 200

    def worker_and_beat():
        return re.search(r"celery@\S+ ready\.", terminal.output) and "beat: Starting..." in terminal.output

    try:
        wait_until(web, 150, "the web process")
        wait_until(worker_and_beat, 60, "the worker and beat")
    except AssertionError:
        raise AssertionError(terminal.output[-3000:]) from None


@pytest.mark.other_process_clock
def test_ctrl_c_on_make_run_stops_everything_cleanly_and_exits_0(make_run):
    terminal, url = make_run
    _up(terminal, url)
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{url}/api/nope-{os.getpid()}", timeout=5)
    wait_until(lambda: f"/api/nope-{os.getpid()}" in terminal.output, 10, "the request line")

    started = time.monotonic()
    terminal.ctrl_c()
    status = terminal.wait(STOP_WITHIN_SECONDS)
    took = time.monotonic() - started
    output = terminal.output
    assert status is not None, f"still running {STOP_WITHIN_SECONDS} s after Ctrl-C:\n{output[-3000:]}"
    assert status == 0, f"exit status {status}:\n{output[-3000:]}"
    assert "SIGINT received" in output  # honcho was the one that got the Ctrl-C
    for bad in ("SIGKILL", "ERROR", "Traceback"):
        assert bad not in output, output[-3000:]
    assert sorted(re.findall(r"(\w+)\.1 stopped", output)) == ["beat", "web", "worker"]
    assert took < STOP_WITHIN_SECONDS
    # The development server's 404 is one line, the request log's, not three.
    [line] = [line for line in output.splitlines() if f"/api/nope-{os.getpid()}" in line]
    assert "request id=" in line and "status=404" in line
