"""The live OpenAPI schema against the app: every operation, anonymous and with a service token
(which may also replay: pass as_of, run the periodic tasks).

schemathesis generates requests from `/api/schema/` (valid ones and ones the schema forbids)
and sends them through the WSGI app. No answer may be a 500, and every answer must be one the
schema documents: its status, its content type, its body. The counts are printed at the end
of the run (see conftest.py), so a CI log says how much was tried.
"""
import os
from collections import Counter

import pytest
import schemathesis
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from feedproject.identity import REPLAY_PERMISSION, SERVICE_PERMISSION
from feedproject.tests.clients import token_header
from markets.tests.factories import MarketFactory, TagFactory

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Per operation and caller: 10 operations x 2 callers x this (plus schemathesis's own edge cases)
# runs in about a minute here. CONTRACT_EXAMPLES=1000 for a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES") or 60)
STATS = {"requests": 0, "server_errors": 0, "violations": 0, "statuses": Counter()}

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def catalog(db, wsgi_keeps_the_test_connection):
    nba = TagFactory(label="NBA")
    # The first is the one the schema's track example names, so that example is accepted.
    for market_id in ("will-lebron-win-all-star-mvp", "fed-cut-march", "btc-100k"):
        MarketFactory(market_id=market_id, tags=[nba])


@pytest.fixture(params=["anonymous", "service"])
def caller_headers(request, db):
    if request.param == "anonymous":
        return {}
    return token_header("contract-service", SERVICE_PERMISSION.split(".")[1], "change_market",
                        REPLAY_PERMISSION.split(".")[1])


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_every_operation_answers_as_documented_and_never_500(case, catalog, caller_headers):
    # Each example starts under the throttle: this test is not about rates.
    cache.clear()
    STATS["requests"] += 1
    response = case.call(headers=caller_headers)
    STATS["statuses"][response.status_code] += 1
    if response.status_code == 500:
        STATS["server_errors"] += 1
    # /healthz documents its 503 (a stale periodic task): that is an answer, not a server error.
    documents_5xx = any(status.startswith("5") for status in case.operation.definition.raw["responses"])
    try:
        case.validate_response(response, checks=CHECKS, excluded_checks=[not_a_server_error] if documents_5xx else [])
        assert response.status_code != 500, response.text
    except Exception:
        STATS["violations"] += response.status_code != 500
        raise
