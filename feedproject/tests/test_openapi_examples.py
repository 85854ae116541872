"""The OpenAPI examples work on a site seeded with the demo catalog, and each 4xx an operation answers is in the
schema: every /api/ operation has request (body or parameter) and response examples; every market id an example
names is an open market of the demo catalog; the response examples match their schemas; the request examples
are accepted as sent ("Try it out"); and a request provoking each error gets a status the operation documents."""
import copy
import json

import jsonschema
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from demo.catalog import catalog_generate, demo_catalog_write
from feedproject.api import REPLAY_PERMISSION
from feedproject.tests.clients import token_client
from markets.models import Market

pytestmark = pytest.mark.django_db
SERVICE_ONLY = {"user_key", "as_of"}  # parameters a visitor does not send: no example needed


@pytest.fixture(scope="module")
def schema():
    return APIClient().get("/api/schema/?format=json").json()


@pytest.fixture
def demo():
    now = timezone.now()
    demo_catalog_write(catalog=catalog_generate(seed=42, count=300, now=now), now=now)
    return now


def operations(schema):
    return [(method, path, op) for path, ops in schema["paths"].items() if path.startswith("/api/")
            for method, op in ops.items()]


def content_examples(content):
    return [example["value"] for example in content.get("application/json", {}).get("examples", {}).values()]


def all_examples(schema):
    """(where, value) for every example in the schema: request bodies, responses, parameters."""
    for method, path, op in operations(schema):
        for value in content_examples(op.get("requestBody", {}).get("content", {})):
            yield f"{method} {path} request", value
        for status, response in op["responses"].items():
            for value in content_examples(response.get("content", {})):
                yield f"{method} {path} {status}", value
        for parameter in op.get("parameters", ()):
            for example in parameter.get("examples", {}).values():
                yield f"{method} {path} {parameter['name']}", {parameter["name"]: example["value"]}


def market_ids(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "market_id" and isinstance(item, str):
                yield item
            elif key == "market_ids" and isinstance(item, list):
                yield from item
            else:
                yield from market_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from market_ids(item)


def test_every_market_id_an_example_names_is_an_open_market_of_the_demo_catalog(schema, demo):
    named = {(where, market_id) for where, value in all_examples(schema) for market_id in market_ids(value)}
    assert len({market_id for _, market_id in named}) >= 3
    open_ids = set(Market.objects.filter(status=Market.Status.OPEN).values_list("market_id", flat=True))
    assert {(where, market_id) for where, market_id in named if market_id not in open_ids} == set()


def test_every_operation_has_request_and_response_examples_and_each_4xx_an_example(schema):
    missing = []
    for method, path, op in operations(schema):
        if not content_examples(op["responses"]["200"].get("content", {})):
            missing.append((method, path, "200"))
        if "requestBody" in op and not content_examples(op["requestBody"]["content"]):
            missing.append((method, path, "request body"))
        visitor = [p for p in op.get("parameters", ()) if p["in"] in ("query", "path") and p["name"] not in SERVICE_ONLY
                   and not p.get("deprecated")]
        if method == "get" and visitor and not any("examples" in p for p in visitor):
            missing.append((method, path, "parameters"))
        for status, response in op["responses"].items():
            if status.startswith("4") and not content_examples(response["content"]):
                missing.append((method, path, status))
    assert missing == []


def json_schema(node, components):
    """An OpenAPI 3.0 schema as JSON Schema: refs inlined, `nullable` as a null alternative."""
    if isinstance(node, list):
        return [json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    out = {k: json_schema(v, components) for k, v in node.items() if k not in ("nullable", "readOnly", "writeOnly")}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def test_every_response_example_matches_its_schema(schema):
    components = schema["components"]["schemas"]
    checked = 0
    for method, path, op in operations(schema):
        for status, response in op["responses"].items():
            content = response.get("content", {}).get("application/json")
            for value in content_examples(response.get("content", {})):
                shape = json_schema(content["schema"], components)
                strict = copy.deepcopy(shape)
                errors = [e.message for e in jsonschema.Draft7Validator(strict).iter_errors(value)]
                assert errors == [], (method, path, status, errors[:3])
                if "properties" in shape:  # and no key the schema does not declare
                    assert set(value) <= set(shape["properties"]), (method, path, status)
                checked += 1
    assert checked >= 12


def test_the_request_examples_are_accepted_as_sent_on_the_demo_catalog(schema, demo):
    visitor = APIClient()
    service = token_client("backend", "change_market")
    sent = []
    for method, path, op in operations(schema):
        if "requestBody" not in op or path == "/api/ops/periodic-tasks/run":  # runs every task: tested in ops
            continue
        path_example = {p["name"]: next(iter(p["examples"].values()))["value"]
                        for p in op.get("parameters", ()) if p["in"] == "path"}
        url = path.format(**path_example)
        client = service if path.startswith("/api/markets") else visitor
        for body in content_examples(op["requestBody"]["content"]):
            response = client.generic(method.upper(), url, json.dumps(body), content_type="application/json")
            assert response.status_code == 200, (method, path, response.content[:300])
            answer = response.json()
            assert answer.get("rejected", 0) == 0, (method, path, answer)
            assert answer.get("unknown", []) == [], (method, path, answer)
            sent.append((method, path))
    assert {p for _, p in sent} >= {"/api/track", "/api/impressions", "/api/rank", "/api/markets/state",
                                   "/api/markets/{market_id}"}


# A request that provokes each 4xx a view can answer; its status must be one the operation documents.
PROVOKE = [
    ("get", "/api/feed", "/api/feed?limit=0", {}, 400),
    ("get", "/api/feed", "/api/feed?user_key=u:1", {}, 403),
    ("get", "/api/feed", "/api/feed?surface=market_related&market_id=no-such-market", {}, 404),
    ("get", "/api/profile", "/api/profile?user_key=u:1", {}, 403),
    ("get", "/api/trending", "/api/trending?country=ISR", {}, 400),
    ("get", "/api/markets", "/api/markets?status=nope", {}, 400),
    ("get", "/api/markets/{market_id}", "/api/markets/no-such-market", {}, 404),
    ("patch", "/api/markets/{market_id}", "/api/markets/bitcoin-above-100k", {"probability": 0.5}, 401),
    ("patch", "/api/markets/{market_id}", "/api/markets/bitcoin-above-100k", {"probability": 0.5}, 403),
    ("patch", "/api/markets/{market_id}", "/api/markets/no-such-market", {"probability": 0.5}, 404),
    ("post", "/api/markets/state", "/api/markets/state", {"updates": []}, 401),
    ("post", "/api/markets/state", "/api/markets/state", {"updates": []}, 403),
    ("post", "/api/rank", "/api/rank", {"market_ids": []}, 400),
    ("post", "/api/track", "/api/track", [], 400),
    ("post", "/api/impressions", "/api/impressions", {"impressions": "x"}, 400),
    ("post", "/api/ops/periodic-tasks/run", "/api/ops/periodic-tasks/run", {"at": "2026-01-01T00:00:00Z"}, 401),
    ("post", "/api/ops/periodic-tasks/run", "/api/ops/periodic-tasks/run", {"at": "2026-01-01T00:00:00Z"}, 403),
]
# 401: no credentials; 403 on an operation that needs a permission: a token without it (on the others, a
# visitor acting for someone else); a 404 of a PATCH needs the permission first.
NEEDS_PERMISSION = {"/api/markets/{market_id}", "/api/markets/state", "/api/ops/periodic-tasks/run"}


@pytest.mark.parametrize("method, path, url, body, status", PROVOKE, ids=[f"{p[0]} {p[2]}" for p in PROVOKE])
def test_each_4xx_a_view_answers_is_documented_on_its_operation(schema, demo, method, path, url, body, status):
    client = APIClient()
    if path in NEEDS_PERMISSION and status != 401:
        client = token_client("backend", "change_market") if status == 404 else token_client("nobody")
    response = client.generic(method.upper(), url, json.dumps(body) if method != "get" else "",
                              content_type="application/json")
    assert response.status_code == status, response.content[:300]
    assert str(status) in schema["paths"][path][method]["responses"]


@pytest.mark.parametrize("method, path", sorted({(m, p) for m, p, *_ in PROVOKE if m != "get"}))
def test_a_body_that_is_not_json_gets_the_documented_415(schema, demo, method, path):
    url = path.replace("{market_id}", "bitcoin-above-100k")
    client = token_client("backend", "change_market", REPLAY_PERMISSION.split(".")[1])
    response = client.generic(method.upper(), url, "x", content_type="text/plain")
    assert response.status_code == 415, response.content[:300]
    assert "415" in schema["paths"][path][method]["responses"]
