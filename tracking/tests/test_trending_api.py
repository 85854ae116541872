"""GET /api/trending[?country=IL]: trending markets, globally or in a country, with the inputs of their scores."""
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from markets.models import Market, MarketVelocity
from markets.tests.factories import MarketFactory, TagFactory
from ops.services import periodic_task_run
from personalization.services import market_trending_refresh_configured
from tracking.tests.pipeline_data import event, ingest
from tracking.velocity import market_velocity_refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    from django.utils import timezone

    return timezone.now()


def clicks(market, count, at, country="", users=None):
    return [event(market, f"u:{market.pk}-{k % (users or count)}", "click", at - timedelta(minutes=1 + k % 40),
                  country=country) for k in range(count)]


@pytest.fixture
def scored(now):
    nba = TagFactory(label="NBA")
    hot = MarketFactory(market_id="hot", tags=[nba])
    warm = MarketFactory(market_id="warm")
    thin = MarketFactory(market_id="thin-in-israel")
    closed = MarketFactory(market_id="closed", status=Market.Status.CLOSED)
    ingest(clicks(hot, 30, now, "IL", users=6) + clicks(warm, 6, now, "IL", users=6) + clicks(thin, 40, now, "IL", 3)
           + clicks(closed, 50, now), received_at=now)
    periodic_task_run(name="markets.velocity_refresh", run=market_velocity_refresh, now=now)
    periodic_task_run(name="markets.trending_refresh", run=market_trending_refresh_configured, now=now)
    return now


def test_global_lists_open_markets_best_first_with_their_inputs(scored):
    response = APIClient().get("/api/trending")
    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "global"
    assert [r["market_id"] for r in body["results"]] == ["thin-in-israel", "hot", "warm"]
    top = body["results"][1]
    assert top["rank"] == 2 and top["tags"] == ["NBA"]
    assert top["unique_users_24h"] == 6 and top["views_24h"] == 0
    assert top["inputs"]["activity_1h"] == 30 and top["inputs"]["activity_24h"] == 30
    four = 1e-4  # sent to 4 decimals (docs/api-errors.md, "Numbers")
    assert top["inputs"]["raw"] == pytest.approx(top["inputs"]["spike"] + top["inputs"]["log_activity_24h"], abs=four)
    assert top["inputs"]["evidence"] == pytest.approx(30 / 35, abs=four / 2)
    # 2nd of 4 (with the closed one)
    assert top["trending_score"] == pytest.approx(2 / 4 * top["inputs"]["evidence"], abs=four)
    assert body["as_of"] is not None


def test_a_country_lists_only_markets_with_enough_users_there(scored):
    body = APIClient().get("/api/trending?scope=il").json()
    assert body["scope"] == "IL"
    assert [r["market_id"] for r in body["results"]] == ["hot", "warm"]
    assert body["results"][0]["trending_score"] == pytest.approx(30 / 35, abs=5e-5)  # first, 30 engagements


def test_limit_cuts_the_list(scored):
    assert len(APIClient().get("/api/trending?limit=1").json()["results"]) == 1


@pytest.mark.parametrize("query", ["scope=ISR", "scope=1L", "limit=0", "limit=101", "limit=x"])
def test_a_bad_scope_or_limit_is_a_400_naming_the_field(scored, query):
    response = APIClient().get(f"/api/trending?{query}")
    assert response.status_code == 400
    assert set(response.json()) <= {"scope", "limit"}


def test_an_unknown_country_or_no_runs_yet_is_an_empty_list():
    body = APIClient().get("/api/trending?country=FR").json()
    assert body == {"kind": "trending", "country": "FR", "scope": "FR", "as_of": None, "results": []}


def test_the_query_count_does_not_grow_with_the_list(scored, django_assert_num_queries):
    # velocities with markets, their tags, the trending run, the inputs aggregate, the current forecast fit
    with django_assert_num_queries(5):
        assert len(APIClient().get("/api/trending?limit=100").json()["results"]) == 3


def test_the_schema_declares_the_query_the_serializer_checks():
    """Generated from TrendingQuerySerializer, so a client (or schemathesis) knows what is a 400."""
    operation = APIClient().get("/api/schema/?format=json").json()["paths"]["/api/trending"]["get"]
    parameters = {parameter["name"]: parameter["schema"] for parameter in operation["parameters"]}
    assert parameters["scope"]["pattern"] == "^(global|[A-Za-z]{2})$"
    assert (parameters["limit"]["minimum"], parameters["limit"]["maximum"]) == (1, 100)


def test_movers_list_the_biggest_odds_moves_weighted_by_trading_with_their_badge(scored, now):
    for market_id, change, rising in (("hot", 0.12, 0.4), ("warm", -0.31, 0.9), ("thin-in-israel", 0.02, 0.1)):
        MarketVelocity.objects.filter(market__market_id=market_id, scope="global").update(
            odds_change_24h=change, rising_score=rising)
    MarketVelocity.objects.filter(market__market_id="closed").update(rising_score=5.0)
    body = APIClient().get("/api/trending?kind=movers").json()
    assert body["kind"] == "movers" and body["scope"] == "global"
    assert [r["market_id"] for r in body["results"]] == ["warm", "hot", "thin-in-israel"]
    assert [r["badge"] for r in body["results"]] == ["▼ 31 pts today", "▲ 12 pts today", None]
    assert all(r["inputs"] is None for r in body["results"])
    trending = APIClient().get("/api/trending").json()["results"]
    assert all(r["inputs"] is not None and "badge" in r for r in trending)


def test_movers_are_global_only_and_an_unknown_kind_is_a_400(scored):
    response = APIClient().get("/api/trending?kind=movers&scope=IL")
    assert response.status_code == 400 and "global" in response.json()["country"][0]
    response = APIClient().get("/api/trending?kind=losers")
    assert response.status_code == 400 and set(response.json()) == {"kind"}
