"""Floats are sent rounded on the feed, rank and trending answers (feedproject.fields: probabilities and odds
changes to 4 decimals, scores, components and the trending inputs to 4, money to 2), never as a binary float's
tail such as -0.025700000000000056, and never as -0.0 (docs/api-errors.md, "Numbers")."""
import math

import pytest
from rest_framework.test import APIClient

from feedproject.fields import rounded
from markets.models import Market, MarketVelocity
from personalization.selectors import caches_reset
from tracking.tests.test_trending_api import now, scored  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
MONEY = {"volume_24h", "volume_total", "backend_volume_5m", "backend_volume_1h", "backend_volume_24h",
         "backend_daily_volume_7d"}
UGLY = -0.025700000000000056


@pytest.fixture
def ugly(scored):  # noqa: F811
    """The scored markets with values no API should repeat to the last bit."""
    Market.objects.update(probability=0.123456789, volume_24h=1234.56789, volume_total=98765.4321)
    MarketVelocity.objects.update(odds_change_24h=UGLY, odds_change_1h=-0.00001, ctr_24h=1 / 3,
                                  backend_volume_24h=1234.56789, backend_daily_volume_7d=2 / 3, rising_score=0.1 + 0.2)
    caches_reset()
    return scored


def floats(value, key=""):
    """(key, float) for every float in a JSON value, at any depth."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from floats(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from floats(v, key)
    elif isinstance(value, float):
        yield key, value


def assert_rounded(body):
    found = list(floats(body))
    assert found, "no floats to check"
    for key, value in found:
        decimals = 2 if key in MONEY else 4
        assert value == round(value, decimals), (key, value)
        assert not (value == 0 and math.copysign(1, value) < 0), (key, "-0.0")
    return dict(found)


@pytest.fixture
def staff(django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create(username="staff", is_staff=True))
    return client


def test_rounded_rounds_and_never_gives_minus_zero():
    assert rounded(UGLY, 4) == -0.0257 and rounded(1234.56789, 2) == 1234.57 and rounded(None, 4) is None
    assert math.copysign(1, rounded(-0.00001, 4)) == 1


def test_the_feed_sends_its_floats_rounded_components_included(ugly, staff):
    body = staff.get("/api/feed?limit=5").json()
    item = body["sections"]["hero"][0] if body["sections"]["hero"] else body["sections"]["grid"][0]
    assert item["probability"] == 0.1235 and item["volume_24h"] == 1234.57 and item["volume_total"] == 98765.43
    assert item["odds_change_24h"] == -0.0257 and item["components"]
    assert_rounded(body)


def test_rank_sends_its_floats_rounded(ugly, staff):
    body = staff.post("/api/rank", {"market_ids": ["hot", "warm"]}, format="json").json()
    assert body["ranked"][0]["odds_change_24h"] == -0.0257 and body["ranked"][0]["components"]
    assert_rounded(body)


@pytest.mark.parametrize("kind", ["trending", "movers"])
def test_trending_sends_its_floats_rounded(ugly, kind):
    body = APIClient().get(f"/api/trending?kind={kind}").json()
    assert body["results"]
    top = body["results"][0]
    assert top["odds_change_24h"] == -0.0257 and top["ctr_24h"] == 0.3333 and top["rising_score"] == 0.3
    assert top["backend_volume_24h"] == 1234.57 and top["backend_daily_volume_7d"] == 0.67
    assert math.copysign(1, top["odds_change_1h"]) == 1  # -0.00001 rounds to 0.0, not -0.0
    assert_rounded(body)
