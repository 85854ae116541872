"""Work that may wait until the response has gone out: run at `request_finished`, per thread.

A WSGI server sends `request_finished` when it closes the response, after writing its body to the
client; so work queued here costs the worker time, not the client's latency. Outside a request
(a command, the simulator, a Celery task), call the work directly instead.
"""
import logging
import threading

from django.core.signals import request_finished

logger = logging.getLogger(__name__)
_queued = threading.local()


def after_response(work):
    """Run `work()` once the current request's response has been sent. A failure is logged, never raised."""
    if not hasattr(_queued, "work"):
        _queued.work = []
    _queued.work.append(work)


def _run_queued(**kwargs):
    queued, _queued.work = getattr(_queued, "work", []), []
    for work in queued:
        try:
            work()
        except Exception:  # the response is gone: there is nobody to answer an error to
            logger.exception("work after the response failed: %s", getattr(work, "__name__", work))


request_finished.connect(_run_queued, dispatch_uid="feedproject.after_response")
