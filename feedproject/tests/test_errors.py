"""Every answer under /api/ is JSON, errors included; pages elsewhere keep Django's HTML."""
import pytest
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
