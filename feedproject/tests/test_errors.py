"""Every answer under /api/ is JSON, errors included; pages elsewhere keep Django's HTML."""
import pytest
from django.db import InterfaceError, OperationalError, ProgrammingError, connection
from django.test import RequestFactory
from rest_framework.test import APIClient

from feedproject import errors

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/nope", "/api/nope/", "/api/markets/a/b", "/api/"])
def test_an_unknown_api_path_is_a_json_404(method, path):
    response = getattr(APIClient(enforce_csrf_checks=True), method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_known_api_paths_still_answer():
    assert APIClient().get("/api/markets").status_code == 200
    assert APIClient().get("/api/markets/nope").status_code == 404


def test_an_unknown_page_outside_the_api_keeps_the_html_404():
    response = APIClient().get("/nope/deeper")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_a_json_405():
    response = APIClient().delete("/api/markets")
    assert response.status_code == 405
    assert set(response.json()) == {"detail"}


def test_a_server_error_is_json_under_the_api_and_html_elsewhere():
    factory = RequestFactory()
    api = errors.server_error(factory.get("/api/feed"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"
    assert api.content == b'{"detail": "A server error occurred."}'
    page = errors.server_error(factory.get("/"))
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


def test_the_urlconf_uses_the_json_aware_500():
    from django.urls import get_resolver

    assert get_resolver().resolve_error_handler(500) is errors.server_error


def _database_down(error):
    def refuse(execute, sql, params, many, context):
        raise error

    return connection.execute_wrapper(refuse)


DRIVER_ERROR = object()  # the driver's own OperationalError, which Django fails to wrap in a few calls


@pytest.mark.parametrize("error", [OperationalError("server closed the connection unexpectedly"),
                                   InterfaceError("connection already closed"), DRIVER_ERROR])
@pytest.mark.parametrize("method, path, body", [
    ("get", "/api/markets", None),
    ("get", "/api/markets/some-market", None),
    ("get", "/api/feed", None),
    ("post", "/api/track", {"event_id": "0b6f4f4e-8a51-4c39-9d3e-3f1c9a1d2b10", "event_type": "click",
                            "market_id": "m", "occurred_at": "2026-11-26T10:00:01Z"}),
])
def test_a_database_outage_in_an_api_view_is_a_json_503_with_retry_after(method, path, body, error, caplog):
    if error is DRIVER_ERROR:  # e.g. psycopg's AdminShutdown from closing a server-side cursor
        error = connection.Database.OperationalError("terminating connection due to administrator command")
    client = APIClient(raise_request_exception=False)
    with _database_down(error):
        response = getattr(client, method)(path, body, format="json")
    assert response.status_code == 503, response.content[:200]
    assert response["Retry-After"] == str(errors.DATABASE_RETRY_AFTER_SECONDS)
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The database is unavailable; retry the request shortly."}
    assert any("database unavailable" in r.getMessage() and type(error).__name__ in r.getMessage()
               for r in caplog.records)


def test_an_outage_while_checking_a_token_is_a_503_too():
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    with _database_down(OperationalError("could not connect to server")):
        response = client.post("/api/track", {"events": []}, format="json")
    assert response.status_code == 503 and set(response.json()) == {"detail"}


def test_other_database_errors_stay_a_json_500():
    client = APIClient(raise_request_exception=False)
    with _database_down(ProgrammingError('relation "markets_market" does not exist')):
        response = client.get("/api/markets")
    assert response.status_code == 500
    assert response.json() == {"detail": "A server error occurred."}
