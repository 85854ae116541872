"""POST /api/markets/state and PATCH /api/markets/{id} with `at`: market_states_update, the one write path."""
import json
import random
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from feedproject.tests.clients import token_client
from feedproject.tests.serializer_shape import assert_matches_serializer
from markets.models import STATE_FIELDS, Market, MarketSnapshot
from markets.serializers import MarketStateSerializer, MarketStatesResultSerializer, MarketStateUpdateSerializer
from markets.services import CATALOG_VERSION_KEY, market_snapshots_refresh, market_states_update
from markets.tests.factories import MarketFactory
from markets.validation import UPDATE_FIELDS, StateUpdate

pytestmark = pytest.mark.django_db

URL = "/api/markets/state"


@pytest.fixture
def backend():
    return token_client("trading-backend", "change_market")


def iso(at):
    return at.isoformat()


def push(client, updates):
    response = client.post(URL, {"updates": updates}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def statuses(body):
    return [r["status"] for r in body["results"]]


def snapshots(market):
    return list(MarketSnapshot.objects.filter(market=market).order_by("taken_at")
                .values_list("taken_at", "probability", "volume_24h"))


def test_a_batch_moves_each_market_and_records_each_moment(backend):
    a, b = MarketFactory(probability=0.40, volume_24h=10.0), MarketFactory(probability=0.70)
    t = timezone.now() - timedelta(minutes=10)
    body = push(backend, [
        {"market_id": a.market_id, "at": iso(t), "probability": 0.45, "volume_24h": 20.0, "trades_24h": 12},
        {"market_id": b.market_id, "at": iso(t), "status": "closed"},
        {"market_id": a.market_id, "at": iso(t + timedelta(minutes=1)), "probability": 0.50},
    ])
    assert statuses(body) == ["applied", "applied", "applied"]
    assert (body["applied"], body["history"], body["duplicate"], body["rejected"]) == (3, 0, 0, 0)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.probability, a.volume_24h, a.trades_24h, a.state_at) == (0.50, 20.0, 12, t + timedelta(minutes=1))
    assert (b.status, b.probability, b.state_at) == ("closed", 0.70, t)
    assert snapshots(a) == [(t, 0.45, 20.0), (t + timedelta(minutes=1), 0.50, 20.0)]
    assert MarketSnapshot.objects.get(market=a, taken_at=t).trades_24h == 12


def test_an_older_update_is_history_and_never_moves_the_state_back(backend):
    market = MarketFactory(probability=0.40, volume_24h=10.0)
    now = timezone.now()
    push(backend, [{"market_id": market.market_id, "at": iso(now - timedelta(minutes=30)), "probability": 0.30,
                    "volume_24h": 5.0}])
    push(backend, [{"market_id": market.market_id, "at": iso(now), "probability": 0.60}])
    body = push(backend, [{"market_id": market.market_id, "at": iso(now - timedelta(minutes=10)),
                           "probability": 0.50}])
    assert statuses(body) == ["history"]
    market.refresh_from_db()
    assert (market.probability, market.state_at) == (0.60, now)
    # Its volume, which it did not send, is the state before it (the snapshot at -30 min), not today's.
    assert snapshots(market) == [
        (now - timedelta(minutes=30), 0.30, 5.0), (now - timedelta(minutes=10), 0.50, 5.0), (now, 0.60, 5.0),
    ]


def test_the_same_update_sent_twice_is_stored_once(backend):
    market = MarketFactory(probability=0.40)
    now = timezone.now()
    current = {"market_id": market.market_id, "at": iso(now), "probability": 0.55}
    old = {"market_id": market.market_id, "at": iso(now - timedelta(hours=1)), "probability": 0.35}
    assert statuses(push(backend, [current])) == ["applied"]
    assert statuses(push(backend, [old])) == ["history"]
    again = push(backend, [current, old, current])
    assert statuses(again) == ["duplicate", "duplicate", "duplicate"]
    assert again["duplicate"] == 3
    assert MarketSnapshot.objects.filter(market=market).count() == 2


def test_a_batch_in_any_order_gives_the_same_market_and_history(backend):
    now = timezone.now()
    updates = [(now - timedelta(minutes=k), {"probability": round(0.3 + k / 100, 2), "volume_24h": float(k)})
               for k in range(8)]
    ends = []
    for seed in (1, 2):
        market = MarketFactory(probability=0.9)
        order = updates[:]
        random.Random(seed).shuffle(order)
        push(backend, [{"market_id": market.market_id, "at": iso(at), **fields} for at, fields in order])
        market.refresh_from_db()
        ends.append(((market.probability, market.volume_24h, market.state_at),
                     [row[1:] for row in snapshots(market)]))
    assert ends[0] == ends[1]
    assert ends[0][0] == (0.30, 0.0, now)


def test_an_update_that_changes_nothing_stores_nothing_but_holds_its_time(backend):
    market = MarketFactory(probability=0.40)
    now = timezone.now()
    body = push(backend, [{"market_id": market.market_id, "at": iso(now), "probability": 0.40}])
    assert statuses(body) == ["unchanged"]
    assert not MarketSnapshot.objects.exists()
    market.refresh_from_db()
    assert market.state_at == now
    # so a move sent late, from before that moment, is history
    late = push(backend, [{"market_id": market.market_id, "at": iso(now - timedelta(minutes=1)), "probability": 0.9}])
    assert statuses(late) == ["history"]
    market.refresh_from_db()
    assert market.probability == 0.40


def test_a_second_word_on_the_same_moment_corrects_it(backend):
    market = MarketFactory(probability=0.40)
    now = timezone.now()
    push(backend, [{"market_id": market.market_id, "at": iso(now), "probability": 0.50}])
    assert statuses(push(backend, [{"market_id": market.market_id, "at": iso(now), "probability": 0.52}])) == [
        "applied"]
    assert snapshots(market) == [(now, 0.52, market.volume_24h)]


def test_a_beat_snapshot_and_a_push_at_the_same_moment_keep_one_row(backend):
    market = MarketFactory(probability=0.40)
    now = timezone.now()
    assert market_snapshots_refresh(now=now) == 1
    # The push is the backend's word on that moment: it replaces the copy beat made.
    assert statuses(push(backend, [{"market_id": market.market_id, "at": iso(now), "probability": 0.65}])) == [
        "applied"]
    assert snapshots(market) == [(now, 0.65, market.volume_24h)]
    # and beat at that moment again keeps the pushed row
    MarketSnapshot.objects.all().delete()
    market_states_update(updates=[StateUpdate(market.market_id, now, {"probability": 0.7})], now=now)
    market_snapshots_refresh(now=now)
    assert snapshots(market) == [(now, 0.7, market.volume_24h)]


def test_the_catalog_reloads_only_when_a_current_state_moved(backend, django_capture_on_commit_callbacks):
    market = MarketFactory(probability=0.40)
    now = timezone.now()
    cache.delete(CATALOG_VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        push(backend, [{"market_id": market.market_id, "at": iso(now), "probability": 0.41}])
    version = cache.get(CATALOG_VERSION_KEY)
    assert version is not None
    with django_capture_on_commit_callbacks(execute=True):
        push(backend, [{"market_id": market.market_id, "at": iso(now - timedelta(hours=1)), "probability": 0.2}])
    assert cache.get(CATALOG_VERSION_KEY) == version


def test_a_batch_of_markets_is_four_statements(backend, django_assert_num_queries):
    markets = MarketFactory.create_batch(30, probability=0.4)
    now = timezone.now()
    for m in markets:
        m.state_at = now
    Market.objects.bulk_update(markets, ["state_at"])
    updates = [{"market_id": m.market_id, "at": iso(now + timedelta(seconds=1)), "probability": 0.5}
               for m in markets]
    updates += [{"market_id": m.market_id, "at": iso(now - timedelta(minutes=5)), "probability": 0.1}
                for m in markets]
    # Lock the markets, the snapshots under the older updates, upsert snapshots, update markets; plus the
    # token with its user, its permissions (user's and groups') and the savepoint pair of the service's
    # atomic block inside the test's transaction.
    with django_assert_num_queries(4 + 3 + 2):
        body = push(backend, updates)
    assert (body["applied"], body["history"]) == (30, 30), body["results"][:2]


# --- Bad input ------------------------------------------------------------------------------------------


def _bad_updates(market_id, now):
    ok = {"market_id": market_id, "at": iso(now)}
    return [
        ({"market_id": "no-such-market", "at": iso(now), "probability": 0.5}, "market_id", "unknown market"),
        ({**ok, "probability": "high"}, "probability", "must be a number"),
        ({**ok, "probability": 1.5}, "probability", "between 0 and 1"),
        ({**ok, "probability": -0.1}, "probability", "between 0 and 1"),
        ({**ok, "volume_24h": -5}, "volume_24h", "at least 0"),
        ({**ok, "volume_total": True}, "volume_total", "must be a number"),
        ({**ok, "trades_24h": 1.5}, "trades_24h", "whole number"),
        ({**ok, "participant_count": 2**40}, "participant_count", "between 0 and"),
        ({**ok, "participant_count": 10**400}, "participant_count", "between 0 and"),
        ({**ok, "status": "paused"}, "status", "is not one of"),
        ({**ok, "title": "A new title"}, "title", "editorial"),
        ({**ok, "colour": "red"}, "colour", "not a known field"),
        ({**ok}, "update", "changes nothing"),
        ({"market_id": market_id, "probability": 0.5}, "at", "required"),
        ({"market_id": market_id, "at": None, "probability": 0.5}, "at", "required"),
        ({"market_id": market_id, "at": "yesterday", "probability": 0.5}, "at", "not an ISO 8601"),
        ({"market_id": market_id, "at": 1764150000, "probability": 0.5}, "at", "must be an ISO 8601"),
        ({"market_id": market_id, "at": "2026-11-26T10:00:00", "probability": 0.5}, "at", "no time zone"),
        ({"market_id": market_id, "at": "0001-01-01T00:00:00+01:00", "probability": 0.5}, "at", "out of range"),
        ({"market_id": market_id, "at": "1999-12-31T00:00:00Z", "probability": 0.5}, "at", "must be from"),
        ({"market_id": market_id, "at": iso(now + timedelta(minutes=10)), "probability": 0.5}, "at", "future"),
        ({"at": iso(now), "probability": 0.5}, "market_id", "required"),
        ({"market_id": 42, "at": iso(now), "probability": 0.5}, "market_id", "must be a string"),
        ({"market_id": "a\x00b", "at": iso(now), "probability": 0.5}, "market_id", "NUL"),
        ({"market_id": "x" * 201, "at": iso(now), "probability": 0.5}, "market_id", "at most 200"),
        ("not an object", "update", "JSON object"),
        ([market_id], "update", "JSON object"),
    ]


def test_every_malformed_update_is_rejected_alone_and_the_valid_ones_still_apply(backend):
    market = MarketFactory(probability=0.40)
    now = timezone.now()
    bad = _bad_updates(market.market_id, now)
    good = {"market_id": market.market_id, "at": iso(now), "probability": 0.61}
    body = push(backend, [good, *(update for update, _, _ in bad)])
    assert body["rejected"] == len(bad) and body["applied"] == 1
    assert body["results"][0] == {"market_id": market.market_id, "status": "applied"}
    for (update, field, reason), result in zip(bad, body["results"][1:], strict=True):
        assert result["status"] == "rejected", update
        assert (result["field"], reason in result["reason"]) == (field, True), (update, result)
    market.refresh_from_db()
    assert market.probability == 0.61


def test_the_results_are_what_the_schema_documents(backend):
    now = timezone.now()
    market = MarketFactory(probability=0.40, state_at=now - timedelta(minutes=1))
    body = push(backend, [
        {"market_id": market.market_id, "at": iso(now), "probability": 0.5},
        {"market_id": market.market_id, "at": iso(now - timedelta(hours=1)), "probability": 0.1},
        {"market_id": market.market_id, "at": iso(now), "probability": 0.5},
        {"market_id": market.market_id, "at": iso(now + timedelta(seconds=1)), "probability": 0.5},
        {"market_id": 7, "at": iso(now), "probability": 0.5},
    ])
    assert statuses(body) == ["applied", "history", "duplicate", "unchanged", "rejected"]
    assert body["results"][-1]["market_id"] is None
    assert_matches_serializer(MarketStatesResultSerializer, body)


def test_infinity_is_rejected_per_update_and_a_nan_literal_is_not_json(backend):
    market = MarketFactory(probability=0.40)
    at = iso(timezone.now())
    raw = ('{"updates": [{"market_id": "%s", "at": "%s", "volume_24h": 1e400},'
           ' {"market_id": "%s", "at": "%s", "volume_total": -1e400},'
           ' {"market_id": "%s", "at": "%s", "volume_total": 7}]}') % ((market.market_id, at) * 3)
    response = backend.post(URL, raw, content_type="application/json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["status"], r.get("field")) for r in results] == [
        ("rejected", "volume_24h"), ("rejected", "volume_total"), ("applied", None)]
    assert "finite" in results[0]["reason"]
    # NaN and Infinity are not JSON: the parser refuses the body (strict JSON), before any update is read.
    nan = '{"updates": [{"market_id": "%s", "at": "%s", "probability": NaN}]}' % (market.market_id, at)
    response = backend.post(URL, nan, content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


@override_settings(TRACK_MAX_FUTURE_SECONDS=60)
def test_the_future_limit_is_the_clock_skew_tolerance_of_track(backend):
    market = MarketFactory(probability=0.40)
    now = timezone.now()
    body = push(backend, [
        {"market_id": market.market_id, "at": iso(now + timedelta(seconds=30)), "probability": 0.5},
        {"market_id": market.market_id, "at": iso(now + timedelta(seconds=120)), "probability": 0.6},
    ])
    assert statuses(body) == ["applied", "rejected"]
    assert "60 s" in body["results"][1]["reason"]


def test_updates_over_the_limit_are_rejected_and_the_first_thousand_apply(backend):
    markets = MarketFactory.create_batch(3, probability=0.4)
    at = iso(timezone.now())
    updates = [{"market_id": markets[k % 3].market_id, "at": at, "volume_total": float(k)} for k in range(1002)]
    body = push(backend, updates)
    assert body["rejected"] == 2
    assert [r["field"] for r in body["results"][1000:]] == ["updates", "updates"]
    assert body["applied"] + body["duplicate"] + body["unchanged"] == 1000


@pytest.mark.parametrize("raw, message", [
    (b"{not json", "JSON parse error"),
    (b"[]", "must be a JSON object"),
    (b'"updates"', "must be a JSON object"),
    (b"{}", "'updates' is required"),
    (b'{"updates": {"market_id": "x"}}', "must be a list"),
    (b'{"updates": "x"}', "must be a list"),
    (b'{"updates": [], "sent_at": "now"}', "Unknown field"),
    (b"", "empty"),
])
def test_a_body_that_is_not_a_batch_is_a_400(backend, raw, message):
    response = backend.post(URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_an_empty_batch_is_fine():
    client = token_client("backend-2", "change_market")
    assert push(client, [])["results"] == []


def test_pushing_needs_a_service_token_with_change_market():
    assert APIClient().post(URL, {"updates": []}, format="json").status_code == 401
    assert token_client("reader").post(URL, {"updates": []}, format="json").status_code == 403


def test_an_as_of_replay_token_pushes_on_the_replayed_clock():
    market = MarketFactory(probability=0.4)
    client = token_client("replayer", "change_market", "replay_as_of")
    as_of = timezone.now() - timedelta(days=30)
    late = as_of + timedelta(minutes=10)  # in the replay's future, today's past
    response = client.post(f"{URL}?as_of={iso(as_of).replace('+', '%2B')}", {"updates": [
        {"market_id": market.market_id, "at": iso(as_of), "probability": 0.5},
        {"market_id": market.market_id, "at": iso(late), "probability": 0.6},
    ]}, format="json")
    assert statuses(response.json()) == ["applied", "rejected"]


# --- PATCH with `at` ------------------------------------------------------------------------------------


def test_patch_takes_at_and_an_older_one_is_history(backend):
    market = MarketFactory(probability=0.40)
    response = backend.patch(f"/api/markets/{market.market_id}", {"probability": 0.58, "trades_24h": 40},
                             format="json")
    assert response.status_code == 200
    market.refresh_from_db()
    assert (market.probability, market.trades_24h) == (0.58, 40)
    assert market.state_at is not None
    older = iso(market.state_at - timedelta(minutes=5))
    response = backend.patch(f"/api/markets/{market.market_id}", {"probability": 0.2, "at": older}, format="json")
    assert response.status_code == 200
    assert response.json()["probability"] == 0.58
    assert MarketSnapshot.objects.filter(market=market).count() == 2


@pytest.mark.parametrize("body, field", [
    ({"probability": 0.5, "at": "soon"}, "at"),
    ({"probability": 0.5, "at": "2999-01-01T00:00:00Z"}, "at"),
    ({"probability": float("nan")}, "detail"),  # not JSON: the parser's 400
    ({"probability": 2}, "probability"),
    ({"trades_24h": -1}, "trades_24h"),
    ({"market_id": "other", "probability": 0.5}, "market_id"),
    ({}, "non_field_errors"),
    (["probability"], "non_field_errors"),
])
def test_patch_refuses_what_the_batch_rejects_with_a_400(backend, body, field):
    market = MarketFactory(probability=0.40)
    payload = json.dumps(body, allow_nan=True)
    response = backend.patch(f"/api/markets/{market.market_id}", payload, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    market.refresh_from_db()
    assert market.probability == 0.40


def test_patch_in_the_near_future_is_accepted():
    market = MarketFactory(probability=0.40)
    client = token_client("backend-3", "change_market")
    at = iso(timezone.now() + timedelta(seconds=20))
    assert client.patch(f"/api/markets/{market.market_id}", {"probability": 0.5, "at": at},
                        format="json").status_code == 200


# --- The schema and the validator agree ----------------------------------------------------------------


def test_the_documented_fields_are_the_validated_ones():
    assert set(MarketStateUpdateSerializer().fields) == set(UPDATE_FIELDS)
    assert set(MarketStateSerializer().fields) == {"at", *STATE_FIELDS}
    assert MarketStateUpdateSerializer().fields["at"].required
    assert not MarketStateSerializer().fields["at"].required


def test_the_schema_documents_the_push():
    schema = APIClient().get("/api/schema/?format=json").json()
    post = schema["paths"]["/api/markets/state"]["post"]
    assert {"200", "400", "401", "403", "413"} <= set(post["responses"])
    assert "updates" in json.dumps(post["requestBody"])


# --- The importers and the demo write through the same path ---------------------------------------------


def _row(market_id, **fields):
    from markets.importers import MarketRow

    return MarketRow("test", market_id, {"title": "A market", "category": "Sports", **fields})


def test_an_import_creates_a_market_with_its_state_time_and_first_snapshot():
    from markets.importers import markets_import

    now = timezone.now()
    markets_import(rows=[_row("new-one", probability=0.3)], now=now)
    market = Market.objects.get(market_id="new-one")
    assert market.state_at == now
    assert snapshots(market) == [(now, 0.3, 0.0)]
    markets_import(rows=[_row("new-one", probability=0.3)], now=now)  # again: nothing new
    assert MarketSnapshot.objects.count() == 1


def test_an_imported_state_change_is_a_state_update_at_the_import_time(backend):
    from markets.importers import markets_import

    now = timezone.now()
    market = MarketFactory(market_id="listed", probability=0.40, state_at=now - timedelta(hours=1))
    result = markets_import(rows=[_row("listed", probability=0.45, title="Renamed")], now=now)
    assert (result.updated, result.snapshots) == (1, 1)
    market.refresh_from_db()
    assert (market.probability, market.state_at, market.title) == (0.45, now, "Renamed")
    # The backend has since pushed a later state: an import older than that is history only, and
    # its editorial fields are still written.
    push(backend, [{"market_id": "listed", "at": iso(now + timedelta(seconds=30)), "probability": 0.8}])
    markets_import(rows=[_row("listed", probability=0.5, title="Renamed again")], now=now + timedelta(seconds=10))
    market.refresh_from_db()
    assert (market.probability, market.title) == (0.8, "Renamed again")
    assert [p for _, p, _ in snapshots(market)] == [0.45, 0.5, 0.8]


def test_the_demo_rewind_moves_the_rows_without_history():
    from markets.services import market_states_rewind

    now = timezone.now()
    market = MarketFactory(probability=0.40, state_at=now)
    assert market_states_rewind(states={market.market_id: (0.1, 1.0, 2.0, 3)}) == 1
    market.refresh_from_db()
    assert (market.probability, market.volume_24h, market.volume_total, market.participant_count) == (0.1, 1.0, 2.0, 3)
    assert market.state_at == now
    assert not MarketSnapshot.objects.exists()
