"""Identity: signed anonymous keys, logged-in users, services acting for users."""
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from feedproject.identity import anonymous_key_sign
from feedproject.tests.clients import token_client
from ingestion.tests.conftest import make_event, make_impression
from personalization.models import TopicAffinity
from tracking.models import Impression, Interaction, RejectedEvent

pytestmark = pytest.mark.django_db


def test_a_visitor_without_a_key_gets_a_signed_one_in_a_cookie_and_the_body(api, nba_market):
    response = api.post("/api/track", make_event(), format="json")
    body = response.json()
    assert body["user_key"].startswith("a:")
    assert response.cookies["feed_uk"].value == body["anon_key"]
    assert body["anon_key"].startswith(body["user_key"] + ":")


def test_the_returned_key_identifies_the_same_visitor_next_time(nba_market):
    first = APIClient().post("/api/track", make_event(), format="json").json()
    second = APIClient().post(
        "/api/track", make_event(), format="json", HTTP_X_USER_KEY=first["anon_key"]
    ).json()
    assert second["user_key"] == first["user_key"]
    assert "anon_key" not in second


@pytest.mark.parametrize("forge", ["tampered", "unsigned", "other-salt"])
def test_a_forged_key_never_reaches_the_victims_data(nba_market, forge):
    victim = APIClient().post("/api/track", make_event(event_type="participate"), format="json").json()
    victim_key = victim["user_key"]
    token = {
        "tampered": victim["anon_key"][:-2] + ("AA" if not victim["anon_key"].endswith("AA") else "BB"),
        "unsigned": victim_key,
        "other-salt": victim_key + ":" + victim["anon_key"].rsplit(":", 2)[1] + ":forged",
    }[forge]
    response = APIClient().post("/api/track", make_event(event_type="hide"), format="json", HTTP_X_USER_KEY=token)
    if forge == "unsigned":  # a bare user_key is refused outright (a client bug, or a forgery): nothing stored
        assert response.status_code == 400 and set(response.json()) == {"X-User-Key"}
    else:
        assert response.json()["user_key"] != victim_key
    assert not TopicAffinity.objects.filter(user_key=victim_key, score__lt=0).exists()


def test_an_anonymous_visitor_cannot_send_events_for_someone_else(api, nba_market):
    response = api.post("/api/track", make_event(user_key="u:42"), format="json")
    assert response.json()["results"][0]["field"] == "user_key"
    assert not Interaction.objects.filter(user_key="u:42").exists()


def test_a_logged_in_user_is_u_and_their_id(nba_market):
    user = User.objects.create_user("ann")
    client = APIClient()
    client.force_authenticate(user)
    assert client.post("/api/track", make_event(), format="json").json()["user_key"] == f"u:{user.pk}"


def test_a_service_token_may_act_for_any_user(nba_market):
    client = token_client("frontend-bff", "act_for_any_user")
    response = client.post(
        "/api/track", {"events": [make_event(user_key="u:7"), make_event(user_key="u:8"), make_event()]}, format="json"
    )
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "accepted", "rejected"]
    assert set(Interaction.objects.values_list("user_key", flat=True)) == {"u:7", "u:8"}


def test_an_expired_key_gets_a_fresh_one(nba_market, settings):
    settings.ANON_KEY_MAX_AGE = -1
    token = anonymous_key_sign("a:" + "0" * 32)
    body = APIClient().post("/api/track", make_event(), format="json", HTTP_X_USER_KEY=token).json()
    assert body["user_key"] != "a:" + "0" * 32


BATCHES = {
    "/api/track": lambda batch_user, **event: {"user_key": batch_user, "events": [make_event(**event), make_event()]},
    "/api/impressions": lambda batch_user, **event: {
        "user_key": batch_user, "impressions": [make_impression(**event), make_impression()]
    },
}


@pytest.mark.parametrize("path", BATCHES)
def test_a_batch_user_key_naming_someone_else_is_rejected_per_event_like_an_event_one(api, nba_market, path):
    """One rule: the batch's user_key is each event's default, checked as an event's own would be."""
    response = api.post(path, BATCHES[path]("u:42"), format="json")
    body = response.json()
    assert response.status_code == 200
    assert [(r["status"], r.get("field")) for r in body["results"]] == [("rejected", "user_key")] * 2
    assert body["user_key"].startswith("a:")  # the caller, never the key it tried to name
    assert not Interaction.objects.exists() and not Impression.objects.exists()
    assert RejectedEvent.objects.count() == 2


@pytest.mark.parametrize("path", BATCHES)
def test_a_batch_user_key_naming_the_caller_itself_is_accepted(nba_market, path):
    user = User.objects.create_user("ann")
    client = APIClient()
    client.force_authenticate(user)
    body = client.post(path, BATCHES[path](f"u:{user.pk}"), format="json").json()
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted"]


def test_a_service_batch_user_key_is_each_events_default_and_an_event_may_override_it(nba_market):
    client = token_client("frontend-bff", "act_for_any_user")
    body = client.post("/api/track", BATCHES["/api/track"]("u:7", user_key="u:8"), format="json").json()
    assert body["user_key"] == "u:7"
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted"]
    assert sorted(Interaction.objects.values_list("user_key", flat=True)) == ["u:7", "u:8"]


def test_a_service_query_user_key_is_validated_and_is_the_batch_default(nba_market):
    client = token_client("frontend-bff", "act_for_any_user")
    assert client.post("/api/track?user_key=u%007", make_event(), format="json").status_code == 400
    body = client.post("/api/track?user_key=u:7", make_event(), format="json").json()
    assert (body["user_key"], body["accepted"]) == ("u:7", 1)


def test_a_service_batch_without_a_user_key_answers_null_as_its_schema_says(nba_market):
    client = token_client("frontend-bff", "act_for_any_user")
    body = client.post("/api/track", {"events": [make_event(user_key="u:7")]}, format="json").json()
    assert body["user_key"] is None and body["accepted"] == 1
    schema = APIClient().get("/api/schema/?format=json").json()
    assert schema["components"]["schemas"]["IngestResponse"]["properties"]["user_key"]["nullable"] is True
