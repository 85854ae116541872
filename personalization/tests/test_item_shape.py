"""One item shape across the lists a frontend renders: a market of the feed (every surface, related markets
included), of /api/rank and of /api/trending is the same market item (markets.serializers.MarketItemSerializer),
each list adding its own fields; trending no longer nests a whole market."""
import pytest
from rest_framework.test import APIClient

from feedproject.tests.serializer_shape import assert_matches_serializer
from markets.models import Market
from markets.serializers import MarketItemSerializer
from personalization.selectors import caches_reset
from personalization.serializers import RankResponseSerializer
from tracking.tests.test_trending_api import now, scored  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
ITEM = tuple(MarketItemSerializer().fields)


def item_of(market_id, items):
    (found,) = [item for item in items if item["market_id"] == market_id]
    return found


@pytest.fixture
def listed(scored):  # noqa: F811
    Market.objects.update(probability=0.41234, volume_24h=1234.567, volume_total=99999.999)
    caches_reset()
    api = APIClient()
    feed = api.get("/api/feed?limit=10").json()
    feed_items = [item for section in feed["sections"].values() for item in section]
    related = api.get("/api/feed?surface=market_related&market_id=warm&limit=10").json()
    related_items = [item for section in related["sections"].values() for item in section]
    ranked = api.post("/api/rank", {"market_ids": ["hot", "warm"]}, format="json").json()["ranked"]
    trending = api.get("/api/trending").json()["results"]
    return {"feed": feed_items, "related": related_items, "rank": ranked, "trending": trending}


def test_feed_related_rank_and_trending_show_a_market_as_the_same_item(listed):
    shown = {name: {k: item_of("hot", items)[k] for k in ITEM} for name, items in listed.items()}
    assert shown["feed"]["tags"] == ["NBA"] and shown["feed"]["probability"] == 0.4123
    assert shown["feed"]["volume_total"] == 100000.0
    assert shown["related"] == shown["feed"]
    assert shown["rank"] == shown["feed"]
    assert shown["trending"] == shown["feed"]


def test_trending_items_are_flat_market_items_with_trending_fields(listed):
    item = item_of("hot", listed["trending"])
    assert "market" not in item and "description" not in item and "event" not in item
    assert {"rank", "trending_score", "rising_score", "inputs", "computed_at"} <= set(item)
    assert set(ITEM) <= set(item)


def test_the_schema_gives_every_list_item_the_market_items_fields():
    components = APIClient().get("/api/schema/?format=json").json()["components"]["schemas"]
    for name in ("FeedItem", "Ranked", "TrendingItem"):
        properties = components[name]["properties"]
        assert set(ITEM) <= set(properties), name
        assert {k: properties[k] for k in ITEM} == {k: components["FeedItem"]["properties"][k] for k in ITEM}, name
    assert "market" not in components["TrendingItem"]["properties"]


def test_the_hand_built_rank_answer_is_its_serializers_shape(scored, admin_user):  # noqa: F811
    visitor = APIClient().post("/api/rank", {"market_ids": ["hot", "warm", "hot", "nope"]}, format="json").json()
    staff = APIClient()
    staff.force_authenticate(admin_user)
    staffs = staff.post("/api/rank", {"market_ids": ["hot", "warm"]}, format="json").json()
    assert visitor["duplicates"] == ["hot"] and visitor["unknown"] == ["nope"] and "components" in staffs["ranked"][0]
    assert_matches_serializer(RankResponseSerializer, visitor, staffs)
