"""Every operation that takes a JSON body reads it the same way: chunked 411, empty 400, too large 413.

The operations come from the published schema, so a new endpoint with a body is checked too.
Sent through Django's WSGI handler, as gunicorn would: the test client always sets a Content-Length.
"""
import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from feedproject.tests.clients import token_header
from feedproject.tests.wsgi import wsgi_call
from markets.models import Market
from markets.tests.factories import MarketFactory

pytestmark = pytest.mark.django_db(transaction=True)


def body_operations():
    schema = Client().get("/api/schema/?format=json").json()
    return sorted(
        (method.upper(), path.replace("{market_id}", "lebron-mvp"))
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    )


def json_call(method, path, body, headers, *, chunked=False):
    code, content = wsgi_call(method, path, body, headers, chunked=chunked)
    return code, json.loads(content)


@pytest.fixture
def service():
    MarketFactory(market_id="lebron-mvp", probability=0.41)
    return token_header("backend", "act_for_any_user", "change_market", "replay_as_of")


def test_the_schema_lists_every_operation_with_a_body():
    assert {path for _, path in body_operations()} == {
        "/api/impressions", "/api/markets/lebron-mvp", "/api/markets/state", "/api/rank", "/api/track",
        "/api/ops/periodic-tasks/run",
    }


@pytest.mark.parametrize("size", [10, 3_000_000])
def test_a_chunked_body_is_refused_with_411_on_every_operation_never_read_as_empty(service, size):
    body = json.dumps({"probability": 0.9, "market_ids": ["lebron-mvp"], "pad": "x" * size}).encode()
    for method, path in body_operations():
        code, answer = json_call(method, path, body, service, chunked=True)
        assert (method, path, code) == (method, path, 411), answer
        assert answer["detail"]
    assert Market.objects.get().probability == 0.41


def test_an_empty_body_is_a_400_with_a_detail_on_every_operation(service):
    for method, path in body_operations():
        code, answer = json_call(method, path, b"", service)
        assert (method, path, code) == (method, path, 400), answer
        assert "empty" in answer["detail"]


def test_a_body_over_the_limit_is_a_json_413_on_every_operation(service, settings):
    settings.TRACK_MAX_BODY_BYTES = 1000
    body = json.dumps({"market_ids": ["lebron-mvp"], "pad": "x" * 2000}).encode()
    for method, path in body_operations():
        code, answer = json_call(method, path, body, service)
        assert (method, path, code) == (method, path, 413), answer
        assert "limit" in answer["detail"]


def test_a_rank_body_with_a_content_length_is_still_read(service):
    response = APIClient().post("/api/rank", {"market_ids": ["lebron-mvp"]}, format="json")
    assert [item["market_id"] for item in response.json()["ranked"]] == ["lebron-mvp"]
