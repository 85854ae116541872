"""after_response: work that runs once the response has gone out (request_finished), and the feed's served log on it."""
import logging

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished

from feedproject.after_response import after_response
from feedproject.tests.wsgi import wsgi_environ, wsgi_open
from personalization.tests.test_feed_api import catalog  # noqa: F401 - the feed's fixture
from tracking.models import ServedItem


def finish():
    request_finished.send(sender=WSGIHandler)


def test_queued_work_runs_once_when_the_request_finishes(wsgi_keeps_the_test_connection):
    done = []
    after_response(lambda: done.append("a"))
    after_response(lambda: done.append("b"))
    assert done == []
    finish()
    assert done == ["a", "b"]
    finish()
    assert done == ["a", "b"]


def test_a_failing_piece_of_work_is_logged_and_the_next_still_runs(caplog, wsgi_keeps_the_test_connection):
    done = []

    def broken():
        raise RuntimeError("boom")

    after_response(broken)
    after_response(lambda: done.append("next"))
    with caplog.at_level(logging.ERROR, logger="feedproject.after_response"):
        finish()
    assert done == ["next"]
    assert "work after the response failed: broken" in caplog.text and "boom" in caplog.text


@pytest.mark.django_db
def test_the_feed_is_logged_as_served_after_its_body_was_written(catalog, wsgi_keeps_the_test_connection):  # noqa: F811
    code, response = wsgi_open(wsgi_environ("GET", "/api/feed?limit=10"))
    body = b"".join(response)  # what a WSGI server writes to the client
    assert code == 200 and b"feed_request_id" in body
    assert not ServedItem.objects.exists()
    response.close()  # the server is done with the response
    assert ServedItem.objects.count() == 10
