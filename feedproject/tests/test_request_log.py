"""One log line per request (feedproject.request_log): its id, status, latency and the kind of caller."""
import logging
import logging.config
import re

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import path
from rest_framework.test import APIClient

from feedproject import urls as site_urls
from feedproject.identity import anonymous_key_new
from feedproject.tests.clients import token_client
from ingestion.tests.conftest import make_event
from markets.tests.factories import MarketFactory

pytestmark = pytest.mark.django_db

LINE = re.compile(
    r"request id=(?P<id>\S+) method=(?P<method>\S+) path=(?P<path>\S+) status=(?P<status>\d+) "
    r"ms=(?P<ms>\d+\.\d) caller=(?P<caller>anonymous|user|service)"
)


def _boom(request):
    raise RuntimeError("a bug in a view")


# This module is also the urlconf of the tests that need a view that raises (pytest.mark.urls).
urlpatterns = [path("api/test-boom", _boom), *site_urls.urlpatterns]
handler500 = site_urls.handler500


def lines(caplog):
    """The request lines logged, parsed."""
    return [LINE.fullmatch(r.getMessage()).groupdict() for r in caplog.records if r.name == "feedproject.request"]


def django_records(caplog):
    return [r for r in caplog.records if r.name in ("django.request", "django.server")]


@pytest.fixture(autouse=True)
def _info(caplog):
    caplog.set_level(logging.INFO)


@pytest.fixture
def market():
    return MarketFactory(market_id="lebron-mvp")


def test_a_request_is_logged_once_with_its_id_status_latency_and_caller(caplog):
    response = APIClient().get("/api/markets?limit=1&user_key=u:someone")
    [line] = lines(caplog)
    assert line["method"] == "GET" and line["path"] == "/api/markets" and line["status"] == "200"
    assert line["caller"] == "anonymous" and float(line["ms"]) > 0
    assert re.fullmatch(r"[0-9a-f]{32}", line["id"]) and response["X-Request-ID"] == line["id"]
    assert [r.levelname for r in caplog.records if r.name == "feedproject.request"] == ["INFO"]
    assert "user_key" not in caplog.text and "someone" not in caplog.text


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("get", "/api/nope", None, 404),
        ("post", "/api/nope/deeper", None, 404),
        ("delete", "/api/markets", None, 405),
        ("get", "/api/markets/no-such-market", None, 404),
        ("post", "/api/track", "[1, 2]", 400),
        ("get", "/no-such-page", None, 404),
    ],
)
def test_a_4xx_is_logged_once_as_a_warning(caplog, method, url, body, status):
    kwargs = {"data": body, "content_type": "application/json"} if body else {}
    response = getattr(APIClient(), method)(url, **kwargs)
    assert response.status_code == status
    [line] = lines(caplog)
    assert (line["path"], line["status"]) == (url, str(status))
    assert [r.levelname for r in caplog.records if r.name == "feedproject.request"] == ["WARNING"]
    assert django_records(caplog) == []  # Django's own "Not Found: ..." / "Bad Request: ..." no more


@pytest.mark.urls(__name__)
def test_a_500_logs_its_line_and_one_traceback_with_the_same_id(caplog):
    response = Client(raise_request_exception=False).get("/api/test-boom", HTTP_X_REQUEST_ID="trace-500")
    assert response.status_code == 500 and response["X-Request-ID"] == "trace-500"
    [line] = lines(caplog)
    assert (line["id"], line["status"]) == ("trace-500", "500")
    [traceback] = django_records(caplog)
    assert traceback.levelname == "ERROR" and traceback.exc_info[0] is RuntimeError
    assert traceback.getMessage() == "Internal Server Error: /api/test-boom id=trace-500"


@pytest.mark.urls(__name__)
def test_the_traceback_carries_its_id_once_after_logging_was_configured_again():
    # A second django.setup() in the process (a simulation arm run in it, say) configures logging
    # again, and dictConfig adds the filter to the logger a second time.
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    records = []
    catch = logging.Handler()
    catch.emit = records.append
    logging.config.dictConfig(settings.LOGGING)
    root.addHandler(catch)
    try:
        Client(raise_request_exception=False).get("/api/test-boom", HTTP_X_REQUEST_ID="trace-again")
        [traceback] = [r for r in records if r.name == "django.request"]
        assert traceback.getMessage() == "Internal Server Error: /api/test-boom id=trace-again"
    finally:
        root.handlers, root.level = root_handlers, root_level
        for name in ("django.request", "django.server"):  # as the process was configured once
            logger = logging.getLogger(name)
            logger.filters = logger.filters[:1]


def test_django_records_reach_one_handler_only():
    """Django's default "django" handlers would print each of its records a second time in development."""
    assert logging.getLogger("django").handlers == [] and logging.getLogger("django.request").handlers == []
    assert logging.getLogger("django").propagate and logging.getLogger("django.request").propagate


def test_the_development_server_access_line_is_dropped_and_its_other_records_kept(caplog):
    server = logging.getLogger("django.server")
    # What runserver logs per request (WSGIRequestHandler.log_message), and what else it logs.
    server.warning('"GET /api/nope HTTP/1.1" 404 23', extra={"request": None, "status_code": 404})
    server.info("- Broken pipe from ('127.0.0.1', 5000)")
    assert [r.getMessage() for r in caplog.records] == ["- Broken pipe from ('127.0.0.1', 5000)"]


def test_a_sane_incoming_request_id_is_kept_and_echoed(caplog):
    response = APIClient().get("/api/markets?limit=1", HTTP_X_REQUEST_ID="lb-7f3a:0001.b_c")
    assert response["X-Request-ID"] == "lb-7f3a:0001.b_c"
    assert lines(caplog)[0]["id"] == "lb-7f3a:0001.b_c"


@pytest.mark.parametrize(
    "hostile", ["x" * 65, "two words", "id\nrequest id=forged status=200", "<script>", "ü-ünicode", "a;b", ""]
)
def test_a_hostile_or_empty_request_id_is_replaced(caplog, hostile):
    response = APIClient().get("/api/markets?limit=1", HTTP_X_REQUEST_ID=hostile)
    [line] = lines(caplog)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"]) and line["id"] == response["X-Request-ID"]
    assert "forged" not in caplog.text and (not hostile or hostile not in caplog.text)


def test_a_control_character_in_the_path_cannot_forge_a_line(caplog):
    APIClient().get("/api/nope%0Arequest id=forged")
    [line] = lines(caplog)
    assert "\n" not in caplog.records[0].getMessage() and line["path"] == "/api/nope%0Arequest%20id=forged"


def test_the_caller_kind_is_anonymous_user_or_service_and_never_the_key(caplog):
    user_key, anon_token = anonymous_key_new()
    service = token_client("frontend-svc", "act_for_any_user")
    service_token = service._credentials["HTTP_AUTHORIZATION"].split()[1]
    member = User.objects.create_user("member")
    logged_in = APIClient()
    logged_in.force_login(member)
    editor = Client()
    editor.force_login(User.objects.create_superuser("editor"))

    assert APIClient().get("/api/feed", HTTP_X_USER_KEY=anon_token).status_code == 200
    assert logged_in.get("/api/feed").status_code == 200
    assert service.get("/api/feed?user_key=u:42").status_code == 200
    assert service.get("/api/markets?limit=1").status_code == 200  # no Caller here: DRF's token user
    assert editor.get("/admin/").status_code == 200  # the admin's session user
    assert editor.get("/healthz").status_code in (200, 503)  # nothing asked who is calling

    assert [line["caller"] for line in lines(caplog)] == ["anonymous", "user", "service", "user", "user", "anonymous"]
    for secret in (user_key, anon_token, service_token, "u:42", f"u:{member.pk}", "frontend-svc", "editor", "member"):
        assert secret not in caplog.text


def test_a_new_anonymous_key_issued_to_the_caller_is_not_logged(caplog):
    response = APIClient().get("/api/feed")
    assert response["X-User-Key"] and response["X-User-Key"] not in caplog.text
    assert lines(caplog)[0]["caller"] == "anonymous"


def test_a_batch_with_rejections_is_a_warning_with_its_counts_and_request_id(caplog, market):
    good, repeated = make_event(), make_event()
    api = APIClient()
    api.post("/api/track", {"events": [repeated]}, format="json")
    caplog.clear()
    body = {"events": [good, repeated, make_event(event_type="teleport"), make_event(market_id="nope")]}
    response = api.post("/api/track", body, format="json", HTTP_X_REQUEST_ID="batch-1")
    assert response.json()["rejected"] == 2
    [warning] = [r for r in caplog.records if r.name == "ingestion.apis"]
    assert warning.levelname == "WARNING"
    assert warning.getMessage() == (
        "batch with rejections id=batch-1 kind=interaction accepted=1 duplicate=1 rejected=2"
    )
    assert [line["status"] for line in lines(caplog)] == ["200"]


def test_a_batch_without_rejections_logs_only_its_request_line(caplog, market):
    response = APIClient().post("/api/impressions", {"impressions": []}, format="json")
    assert response.status_code == 200
    assert [r.name for r in caplog.records] == ["feedproject.request"]
