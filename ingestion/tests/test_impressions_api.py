"""POST /api/impressions."""
import uuid

import pytest

from ingestion.tests.conftest import make_impression
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


def test_impressions_must_come_as_a_list(api, nba_market):
    assert api.post("/api/impressions", make_impression(), format="json").status_code == 400


def test_an_impression_with_an_event_type_field_is_rejected(api, nba_market):
    response = api.post("/api/impressions", {"impressions": [make_impression(event_type="click")]}, format="json")
    assert response.json()["results"][0]["field"] == "event_type"
