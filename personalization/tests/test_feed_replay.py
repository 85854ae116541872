"""`feed_request_id`: same id, same feed. A feed served under an id is replayed from the served log
(tracking.ServedItem) for the same caller on the same surface: the same markets in the same order, with the same
sections, pools and reasons, each card's data as it is now. Another caller's or surface's id is a 400; an id never
served gives a new feed under it, which a repeat then replays."""
import uuid

import pytest
from rest_framework.test import APIClient

from feedproject.tests.serializer_shape import payload_paths
from ingestion.tests.conftest import make_event, make_impression
from markets.models import Market
from personalization.selectors import caches_reset
from personalization.serializers import FeedResponseSerializer
from personalization.tests.test_feed_api import catalog, items  # noqa: F401  (catalog: a fixture)

pytestmark = pytest.mark.django_db
PLACE = ("market_id", "position", "section", "pool", "reason", "reason_text")


def placed(body):
    return [tuple(it[k] for k in PLACE) for it in items(body)]


def test_the_same_id_replays_the_served_feed_after_impressions_a_hide_and_new_odds(catalog):  # noqa: F811
    client = APIClient()
    first = client.get("/api/feed?limit=8").json()
    assert first["replayed"] is False
    shown = [it["market_id"] for it in items(first)]
    client.post("/api/impressions", {"feed_request_id": first["feed_request_id"],
                                     "impressions": [make_impression(market_id=m) for m in shown]}, format="json")
    client.post("/api/track", make_event(market_id=shown[1], event_type="hide"), format="json")
    Market.objects.filter(market_id=shown[0]).update(probability=0.777, volume_24h=4321.0)
    caches_reset()

    fresh = client.get("/api/feed?limit=8").json()
    assert set(it["market_id"] for it in items(fresh)) != set(shown)  # ranked anew, the feed would change
    again = client.get(f"/api/feed?limit=8&feed_request_id={first['feed_request_id']}")
    assert again.status_code == 200
    replayed = again.json()
    payload_paths(FeedResponseSerializer(), replayed)  # no undeclared key, no required one missing
    assert replayed["replayed"] is True and replayed["feed_request_id"] == first["feed_request_id"]
    assert placed(replayed) == placed(first)
    assert (replayed["generated_at"], replayed["user_key"], replayed["config_version"]) == \
        (first["generated_at"], first["user_key"], first["config_version"])
    card = items(replayed)[0]
    assert (card["probability"], card["volume_24h"]) == (0.777, 4321.0)  # the card's data as it is now


def test_a_market_closed_since_keeps_its_place_with_its_current_data(catalog):  # noqa: F811
    client = APIClient()
    first = client.get("/api/feed?limit=5").json()
    gone = items(first)[2]["market_id"]
    Market.objects.filter(market_id=gone).update(status=Market.Status.CLOSED, probability=0.9)
    caches_reset()
    replayed = client.get(f"/api/feed?limit=5&feed_request_id={first['feed_request_id']}").json()
    assert placed(replayed) == placed(first)
    assert items(replayed)[2]["probability"] == 0.9
    payload_paths(FeedResponseSerializer(), replayed)  # no undeclared key, no required one missing


def test_staff_get_the_stored_components_again(catalog, admin_user):  # noqa: F811
    client = APIClient()
    client.force_authenticate(admin_user)
    first = client.get("/api/feed?limit=5").json()
    replayed = client.get(f"/api/feed?limit=5&feed_request_id={first['feed_request_id']}").json()
    assert [it["components"] for it in items(replayed)] == [it["components"] for it in items(first)]


def test_another_callers_id_is_a_400_and_no_feed_of_theirs_is_shown(catalog):  # noqa: F811
    owner = APIClient()
    served = owner.get("/api/feed?limit=5").json()
    response = APIClient().get(f"/api/feed?limit=5&feed_request_id={served['feed_request_id']}")
    assert response.status_code == 400
    assert list(response.json()) == ["feed_request_id"] and "another caller" in response.json()["feed_request_id"][0]


def test_the_same_id_on_another_surface_is_a_400(catalog):  # noqa: F811
    client = APIClient()
    served = client.get("/api/feed?limit=5").json()
    query = f"surface=category&category=Sports&feed_request_id={served['feed_request_id']}"
    response = client.get(f"/api/feed?limit=5&{query}")
    assert response.status_code == 400 and list(response.json()) == ["feed_request_id"]


def test_an_id_never_served_gives_a_new_feed_under_it_which_a_repeat_replays(catalog):  # noqa: F811
    client = APIClient()
    feed_request_id = str(uuid.uuid4())
    first = client.get(f"/api/feed?limit=6&feed_request_id={feed_request_id}").json()
    assert first["replayed"] is False and first["feed_request_id"] == feed_request_id
    shown = [it["market_id"] for it in items(first)]
    client.post("/api/impressions", {"feed_request_id": feed_request_id,
                                     "impressions": [make_impression(market_id=m) for m in shown]}, format="json")
    again = client.get(f"/api/feed?limit=6&feed_request_id={feed_request_id}").json()
    assert again["replayed"] is True and placed(again) == placed(first)
