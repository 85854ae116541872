"""The published OpenAPI schema covers every endpoint and generates without warnings."""
import re

import jsonschema
import pytest
from django.core.management import call_command
from django.urls import resolve
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from feedproject.api import CallerApi
from markets.tests.factories import MarketFactory

pytestmark = pytest.mark.django_db
ENDPOINTS = {
    "/api/track": {"post"},
    "/api/impressions": {"post"},
    "/api/markets": {"get"},
    "/api/markets/{market_id}": {"get", "patch"},
    "/api/markets/state": {"post"},
    "/api/feed": {"get"},
    "/api/rank": {"post"},
    "/api/profile": {"get"},
}


def test_the_schema_documents_every_endpoint_and_the_docs_page_renders():
    schema = APIClient().get("/api/schema/?format=json").json()
    for path, methods in ENDPOINTS.items():
        assert methods <= set(schema["paths"][path]), path
    assert "event_type" in schema["components"]["schemas"]["InteractionEvent"]["properties"]
    page = APIClient().get("/api/docs/")
    assert page.status_code == 200
    assert b"swagger-ui" in page.content and b"cdn.jsdelivr" not in page.content  # works offline


def test_the_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").stat().st_size > 1000


def test_every_response_of_a_caller_api_documents_the_anon_key_it_may_carry():
    schema = APIClient().get("/api/schema/?format=json").json()
    documented = set()
    for path, operations in schema["paths"].items():
        view = resolve(re.sub(r"\{[^}]+\}", "x", path)).func
        if not issubclass(getattr(view, "view_class", object), CallerApi):
            continue
        for method, operation in operations.items():
            ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            properties = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
            assert "anon_key" in properties, f"{method} {path}"
            documented.add(path)
    assert documented == {"/api/feed", "/api/rank", "/api/profile", "/api/track", "/api/impressions"}


# Each operation's 4xx, added once for every view by feedproject.openapi.ErrorsAutoSchema.
ERRORS = {
    ("get", "/api/feed"): {400, 401, 403, 404, 406, 429},  # 404: the related surface's market
    ("get", "/api/profile"): {400, 401, 403, 406, 429},
    ("get", "/api/markets"): {400, 401, 406, 429},
    ("get", "/api/trending"): {400, 401, 406, 429},
    ("get", "/api/markets/{market_id}"): {401, 404, 406, 429},
    ("patch", "/api/markets/{market_id}"): {400, 401, 403, 404, 406, 411, 413, 415, 429},
    ("post", "/api/markets/state"): {400, 401, 403, 406, 411, 413, 415, 429},
    ("post", "/api/rank"): {400, 401, 403, 406, 411, 413, 415, 429},
    ("post", "/api/track"): {400, 401, 403, 406, 411, 413, 415, 429},
    ("post", "/api/impressions"): {400, 401, 403, 406, 411, 413, 415, 429},
    ("get", "/healthz"): {406},
    ("post", "/api/ops/periodic-tasks/run"): {400, 401, 403, 406, 411, 413, 415, 429},
}


def _operations(schema):
    return {(method, path): operation for path, ops in schema["paths"].items() for method, operation in ops.items()}


def test_every_operation_documents_each_4xx_it_can_answer_with_the_error_shape():
    schema = APIClient().get("/api/schema/?format=json").json()
    operations = _operations(schema)
    assert set(operations) == set(ERRORS)
    for key, operation in operations.items():
        documented = {int(status) for status in operation["responses"] if status.startswith("4")}
        assert documented == ERRORS[key], key
        for status in documented:
            body = operation["responses"][str(status)]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/" + ("FieldErrors" if status == 400 else "Error")}, key
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]


def _call(client, method, path, **extra):
    path = path.replace("{market_id}", "lebron-mvp")
    return getattr(client, method)(path, {"market_ids": ["lebron-mvp"]} if method != "get" else None,
                                   format="json", **extra)


def test_a_bad_token_gets_the_documented_401_on_every_operation_that_authenticates():
    MarketFactory(market_id="lebron-mvp")
    schema = APIClient().get("/api/schema/?format=json").json()
    checked = set()
    for (method, path), operation in _operations(schema).items():
        if "401" in operation["responses"]:
            response = _call(APIClient(), method, path, HTTP_AUTHORIZATION="Token not-a-token")
            assert response.status_code == 401, (method, path)
            jsonschema.validate(response.json(), schema["components"]["schemas"]["Error"])
            checked.add((method, path))
    assert checked == {key for key, statuses in ERRORS.items() if 401 in statuses}


def test_a_throttled_request_gets_the_documented_429_with_an_integer_retry_after(monkeypatch):
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "anon": "1/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    schema = APIClient().get("/api/schema/?format=json").json()
    client = APIClient()
    client.get("/api/trending")
    response = client.get("/api/trending")
    assert response.status_code == 429
    documented = schema["paths"]["/api/trending"]["get"]["responses"]["429"]
    jsonschema.validate(response.json(), schema["components"]["schemas"]["Error"])
    assert documented["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert int(response["Retry-After"]) > 0


def test_an_accept_header_asking_for_something_else_gets_the_documented_406():
    response = APIClient().get("/api/trending", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    assert set(response.json()) == {"detail"}


def test_the_anonymous_key_is_a_security_scheme_of_the_visitor_operations():
    schema = APIClient().get("/api/schema/?format=json").json()
    scheme = schema["components"]["securitySchemes"]["userKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-User-Key")
    assert "anon_key" in scheme["description"] and "do not send" in scheme["description"]
    for path, method in (("/api/feed", "get"), ("/api/track", "post"), ("/api/profile", "get")):
        operation = schema["paths"][path][method]
        assert {"userKey": []} in operation["security"] and "400" in operation["responses"]
    assert {"userKey": []} not in schema["paths"]["/api/markets"]["get"].get("security", [])


def test_a_bare_user_key_in_the_header_is_a_clear_400_and_the_signed_key_works():
    client = APIClient()
    first = client.get("/api/feed?limit=1").json()
    response = APIClient().get("/api/feed?limit=1", HTTP_X_USER_KEY=first["user_key"])
    assert response.status_code == 400 and "anon_key" in response.json()["X-User-Key"][0]
    again = APIClient().get("/api/feed?limit=1", HTTP_X_USER_KEY=first["anon_key"]).json()
    assert again["user_key"] == first["user_key"]
    # A tampered or expired key is no client bug to refuse: it gets a fresh key, as before.
    fresh = APIClient().get("/api/feed?limit=1", HTTP_X_USER_KEY=first["anon_key"] + "x").json()
    assert fresh["user_key"] != first["user_key"] and fresh["anon_key"]
