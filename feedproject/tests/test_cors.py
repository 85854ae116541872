"""CORS: same origin unless listed; a listed frontend may call /api/ with X-User-Key, without credentials."""
import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

FRONTEND = "https://app.example.com"


def preflight(path, origin):
    return APIClient().options(path, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                               HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-user-key")


def test_by_default_no_other_origin_is_allowed():
    response = APIClient().get("/api/markets", HTTP_ORIGIN=FRONTEND)
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight("/api/track", FRONTEND).headers


def test_a_listed_frontend_may_call_the_api_with_the_users_key_header_but_no_credentials(settings):
    settings.CORS_ALLOWED_ORIGINS = [FRONTEND]
    response = preflight("/api/track", FRONTEND)
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert "x-user-key" in response.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in response.headers
    answer = APIClient().get("/api/feed?limit=3", HTTP_ORIGIN=FRONTEND)
    assert answer.headers["access-control-allow-origin"] == FRONTEND
    assert "x-request-id" in answer.headers["access-control-expose-headers"]
    # Another origin, and pages outside /api/, get nothing.
    assert "access-control-allow-origin" not in preflight("/api/track", "https://evil.example").headers
    assert "access-control-allow-origin" not in APIClient().get("/healthz", HTTP_ORIGIN=FRONTEND).headers
