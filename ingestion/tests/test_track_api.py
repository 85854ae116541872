"""POST /api/track: per-event results, bad input and idempotency."""
import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from feedproject.tests.serializer_shape import assert_matches_serializer
from ingestion.serializers import IngestResponseSerializer
from ingestion.tests.conftest import make_event
from markets.tests.factories import MarketFactory
from personalization.selectors import catalog_current
from tracking.models import Interaction, RejectedEvent

pytestmark = pytest.mark.django_db


def post(api, body, **kwargs):
    return api.post("/api/track", body, format="json", **kwargs)


def statuses(response):
    return [(r["status"], r.get("field")) for r in response.json()["results"]]


def test_it_accepts_a_single_event_object(api, nba_market):
    response = post(api, make_event())
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert Interaction.objects.get().market == nba_market


@pytest.mark.parametrize(
    "change, field",
    [
        ({"event_type": "clack"}, "event_type"),
        ({"market_id": "no-such-market"}, "market_id"),
        ({"event_id": "not-a-uuid"}, "event_id"),
        ({"occurred_at": "yesterday-ish"}, "occurred_at"),
        ({"occurred_at": (timezone.now() + timedelta(days=365)).isoformat()}, "occurred_at"),
        ({"received_at": "2026-01-01T00:00:00Z"}, "received_at"),
        ({"weight": 100}, "weight"),
        ({"weights": {"Sports": 9}}, "weights"),
        ({"dwell_ms": -5}, "dwell_ms"),
        ({"geo_country": "Israel"}, "geo_country"),
        ({"metadata": {"blob": "x" * 20_000}}, "event"),
    ],
)
def test_a_bad_event_is_rejected_with_its_field_and_the_rest_of_the_batch_is_stored(api, nba_market, change, field):
    good = [make_event(), make_event()]
    bad = {**make_event(), **change}
    response = post(api, {"events": [good[0], bad, good[1]]})
    assert response.status_code == 200
    assert statuses(response) == [("accepted", None), ("rejected", field), ("accepted", None)]
    assert response.json()["results"][1]["reason"]
    assert set(Interaction.objects.values_list("event_id", flat=True)) == {uuid.UUID(e["event_id"]) for e in good}
    kept = RejectedEvent.objects.get()
    assert (kept.field, kept.payload) == (field, json.loads(json.dumps(bad)))


def test_a_missing_field_is_rejected(api, nba_market):
    event = make_event()
    del event["occurred_at"]
    response = post(api, {"events": [event]})
    assert statuses(response) == [("rejected", "occurred_at")]


def test_an_event_that_is_not_an_object_is_rejected_alone(api, nba_market):
    response = post(api, {"events": ["click", make_event()]})
    assert statuses(response) == [("rejected", "event"), ("accepted", None)]


def test_the_same_batch_sent_twice_stores_each_event_once(api, nba_market):
    batch = {"events": [make_event() for _ in range(5)]}
    first, second = post(api, batch), post(api, batch)
    assert first.json()["accepted"] == 5
    assert (second.json()["accepted"], second.json()["duplicate"]) == (0, 5)
    assert Interaction.objects.count() == 5


def test_a_repeated_event_id_inside_one_batch_is_a_duplicate(api, nba_market):
    event = make_event()
    response = post(api, {"events": [event, dict(event)]})
    assert statuses(response) == [("accepted", None), ("duplicate", None)]


@override_settings(TRACK_MAX_BATCH=5)
def test_events_over_the_batch_limit_are_rejected_and_the_first_ones_stored(api, nba_market):
    response = post(api, {"events": [make_event() for _ in range(7)]})
    assert statuses(response) == [("accepted", None)] * 5 + [("rejected", "events")] * 2
    assert "batch limit of 5" in response.json()["results"][-1]["reason"]
    assert Interaction.objects.count() == 5


@override_settings(TRACK_MAX_BODY_BYTES=2_000)
def test_a_body_over_the_size_limit_is_refused_with_413_before_parsing(api, nba_market):
    response = post(api, {"events": [make_event(metadata={"pad": "x" * 500}) for _ in range(5)]})
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert Interaction.objects.count() == 0


@pytest.mark.parametrize(
    "body, content_type",
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ('{"events": {"a": 1}}', "application/json"),
        ('{"events": [], "surprise": 1}', "application/json"),
        ('"just a string"', "application/json"),
    ],
)
def test_a_body_of_the_wrong_shape_is_a_400_with_a_message(api, nba_market, body, content_type):
    response = api.post("/api/track", body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_client_clock_skew_is_corrected_from_sent_at(api, nba_market):
    # The client's clock runs one hour fast: it stamped the event 10 s before sending.
    client_now = timezone.now() + timedelta(hours=1)
    event = make_event(at=client_now - timedelta(seconds=10))
    before = timezone.now()
    post(api, {"sent_at": client_now.isoformat(), "events": [event]})
    stored = Interaction.objects.get()
    assert before - timedelta(seconds=11) <= stored.occurred_at <= timezone.now() - timedelta(seconds=9)


def test_a_slightly_future_time_is_clamped_to_the_receive_time(api, nba_market):
    post(api, make_event(at=timezone.now() + timedelta(seconds=30)))
    stored = Interaction.objects.get()
    assert stored.occurred_at == stored.received_at


def test_the_query_count_of_a_batch_does_not_grow_with_its_size(api):
    markets = MarketFactory.create_batch(20)
    catalog_current(now=timezone.now())  # the in-memory catalog answers market lookups once loaded
    post(api, make_event(market_id=markets[0].market_id))  # opens the session (its one extra DELETE)
    counts = []
    for size in (10, 200):
        events = [make_event(market_id=markets[i % 20].market_id, geo_country="IL") for i in range(size)]
        with CaptureQueriesContext(connection) as queries:
            assert post(api, {"events": events}).json()["accepted"] == size
        counts.append(len(queries))
    # savepoint, raw insert, profile insert + lock, affinities, market states, 3 user-state
    # upserts, 2 activity upserts, release
    assert counts[0] == counts[1] == 12, counts


def test_the_hand_built_response_sends_exactly_the_fields_its_serializer_declares(api, nba_market):
    event = make_event()
    body = post(api, {"events": [event, event, make_event(event_type="clack")]}).json()  # a new visitor: anon_key
    assert [r["status"] for r in body["results"]] == ["accepted", "duplicate", "rejected"]
    assert_matches_serializer(IngestResponseSerializer, body)
