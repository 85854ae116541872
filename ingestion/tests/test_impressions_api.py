"""POST /api/impressions."""
import uuid

import pytest

from feedproject.tests.serializer_shape import assert_matches_serializer
from ingestion.serializers import IngestResponseSerializer
from ingestion.tests.conftest import make_impression
from markets.tests.factories import MarketFactory, TagFactory
from personalization.models import UserMarketState
from tracking.models import Impression, RejectedEvent

pytestmark = pytest.mark.django_db


def test_a_batch_of_impressions_is_stored_with_the_feed_request_and_updates_user_state(api, nba_market):
    feed_request_id = str(uuid.uuid4())
    body = {
        "feed_request_id": feed_request_id,
        "surface": "home",
        "impressions": [make_impression(section="hero", position=0), make_impression(market_id="nope", position=1)],
    }
    response = api.post("/api/impressions", body, format="json")
    assert response.status_code == 200
    assert [(r["status"], r.get("field")) for r in response.json()["results"]] == [
        ("accepted", None),
        ("rejected", "market_id"),
    ]
    impression = Impression.objects.get()
    assert (str(impression.feed_request_id), impression.section, impression.position) == (feed_request_id, "hero", 0)
    assert UserMarketState.objects.get().impressions_total == 1
    assert RejectedEvent.objects.get().endpoint == "impression"
    assert_matches_serializer(IngestResponseSerializer, response.json())


def test_impressions_must_come_as_a_list(api, nba_market):
    assert api.post("/api/impressions", make_impression(), format="json").status_code == 400


def test_an_impression_with_an_event_type_field_is_rejected(api, nba_market):
    response = api.post("/api/impressions", {"impressions": [make_impression(event_type="click")]}, format="json")
    assert response.json()["results"][0]["field"] == "event_type"


@pytest.mark.parametrize("size", [3, 30])
def test_a_batch_runs_the_same_ten_queries_whatever_its_size(api, size, django_assert_num_queries):
    markets = [MarketFactory(tags=[TagFactory()], market_id=f"shown-{k}") for k in range(size)]

    def batch():
        return {
            "feed_request_id": str(uuid.uuid4()), "surface": "home",
            "impressions": [make_impression(market_id=m.market_id, section="grid", position=k)
                            for k, m in enumerate(markets)],
        }

    # The first batch loads the in-memory catalog and opens the session (its one extra DELETE);
    # the count below is the warm one, on markets the user has state for already.
    api.post("/api/impressions", batch(), format="json")
    # savepoint, raw insert, profile insert + lock, market states read and upsert, profile upsert,
    # 2 activity upserts, release
    with django_assert_num_queries(10):
        response = api.post("/api/impressions", batch(), format="json")
    assert response.json()["accepted"] == size
    assert UserMarketState.objects.filter(impressions_total=2).count() == size
