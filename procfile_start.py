"""`python procfile_start.py`: `honcho -f Procfile start` (what `make run` runs), with a shutdown grace
the worker can keep.

Honcho 2.0 SIGKILLs whatever still runs 5 s after the first process stopped: a constant, with no
option to change it (nickstenning/honcho#189). On Ctrl-C the web process stops at once, while the
worker's shutdown takes 5-7 s on the filesystem broker (two 2-second broker polls, then the pool)
and longer while a task finishes. See docs/runbook.md, "Stopping `make run`".
"""
import sys

import honcho.command
import honcho.manager

# More than the worker's soft shutdown (CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT) plus its own teardown.
SHUTDOWN_GRACE_SECONDS = 30

if __name__ == "__main__":
    honcho.manager.KILL_WAIT = SHUTDOWN_GRACE_SECONDS
    sys.argv[0] = "honcho"
    honcho.command.main(["-f", "Procfile", "start", *sys.argv[1:]])
