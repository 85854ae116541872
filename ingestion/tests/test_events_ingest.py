"""What an accepted event changes: user state, affinities, sessions, profile and activity buckets."""
import random
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ingestion.services import IMPRESSION, INTERACTION, events_ingest
from ingestion.tests.conftest import make_event, make_impression
from markets.tests.factories import MarketFactory, TagFactory
from personalization.models import TopicAffinity, UserMarketState, UserProfile
from tracking.models import Interaction, MarketActivity, MarketActivityUser

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=dt_timezone.utc)


def ingest(events, *, kind=INTERACTION, user="u:1", at=None, defaults=None):
    received = at or max(datetime.fromisoformat(e.get("occurred_at") or e["shown_at"]) for e in events)
    result = events_ingest(kind=kind, raw_events=events, user_key=user, defaults=defaults, received_at=received)
    assert result.count("rejected") == 0, result.results
    return result


def scores(user="u:1", horizon="long"):
    return {
        (a.topic_type, a.topic_value): round(a.score, 6)
        for a in TopicAffinity.objects.filter(user_key=user, horizon=horizon)
    }


def test_an_interaction_adds_its_weight_to_the_category_and_tags_in_both_horizons(nba_market):
    ingest([make_event(event_type="bookmark", at=T0)])
    expected = {("category", "Sports"): 3.5, ("tag", "nba"): 2.8, ("tag", "lebron"): 2.8}
    assert scores(horizon="long") == expected
    assert scores(horizon="session") == expected


def test_dwell_multiplies_the_weight(nba_market):
    ingest([make_event(event_type="view_market", at=T0, dwell_ms=31_000)])
    assert scores()[("category", "Sports")] == 3.0  # 2.0 x 1.5


def test_long_term_affinity_halves_after_thirty_days(nba_market):
    ingest([make_event(event_type="click", at=T0)])
    ingest([make_event(event_type="unhide", at=T0 + timedelta(days=30))])  # weight 0: touches nothing
    ingest([make_event(event_type="click", at=T0 + timedelta(days=30))])
    assert scores()[("category", "Sports")] == pytest.approx(2.0 * 0.5 + 2.0)


def test_a_new_session_after_thirty_minutes_clears_the_session_horizon(nba_market):
    crypto = MarketFactory(category="Crypto", tags=[TagFactory(label="Bitcoin")])
    ingest([make_event(event_type="click", at=T0)])
    ingest([make_event(market_id=crypto.market_id, event_type="click", at=T0 + timedelta(minutes=31))])
    assert set(scores(horizon="session")) == {("category", "Crypto"), ("tag", "bitcoin")}
    assert ("category", "Sports") in scores(horizon="long")
    profile = UserProfile.objects.get(user_key="u:1")
    assert profile.session_started_at == T0 + timedelta(minutes=31)


def test_events_within_thirty_minutes_stay_in_one_session(nba_market):
    ingest([make_event(event_type="click", at=T0)])
    ingest([make_event(event_type="click", at=T0 + timedelta(minutes=29))])
    assert UserProfile.objects.get().session_started_at == T0
    assert scores(horizon="session")[("category", "Sports")] == pytest.approx(2.0 * 2 ** (-29 / 30) + 2.0)


@hsettings(max_examples=15, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=90 * 24 * 60), min_size=2, max_size=6),
    seed=st.integers(0, 1000),
)
def test_affinities_do_not_depend_on_the_order_events_arrive_in(offsets, seed):
    """Late events decay forward to the stored reference time: a replay equals live traffic."""
    market = MarketFactory(category="Politics")
    events = [
        make_event(market_id=market.market_id, event_type="participate", at=T0 + timedelta(minutes=m))
        for m in offsets
    ]
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    end = T0 + timedelta(minutes=max(offsets))
    in_order, mixed_order = f"u:{uuid.uuid4().hex}", f"u:{uuid.uuid4().hex}"  # examples share one database
    for user, order in ((in_order, sorted(events, key=lambda e: e["occurred_at"])), (mixed_order, shuffled)):
        for event in order:
            ingest([dict(event, event_id=str(uuid.uuid4()))], user=user, at=end)
    ordered, mixed = (
        TopicAffinity.objects.get(user_key=u, horizon="long", topic_value="Politics") for u in (in_order, mixed_order)
    )
    assert mixed.updated_at == ordered.updated_at
    assert mixed.score == pytest.approx(ordered.score, rel=1e-9)


def test_hide_sets_hidden_and_unhide_clears_it(nba_market):
    ingest([make_event(event_type="hide", at=T0)])
    state = UserMarketState.objects.get()
    assert state.hidden and state.last_negative_at == T0
    assert scores()[("category", "Sports")] == -6.0
    ingest([make_event(event_type="unhide", at=T0 + timedelta(minutes=1))])
    assert not UserMarketState.objects.get().hidden


@pytest.mark.parametrize(("event_type", "rejection"), [("not_interested", True), ("hide", True), ("skip_fast", False)])
def test_a_hide_or_not_interested_is_remembered_as_a_rejection_and_a_fast_skip_is_not(nba_market, event_type,
                                                                                       rejection):
    ingest([make_event(event_type=event_type, at=T0)])
    state = UserMarketState.objects.get()
    assert state.last_negative_at == T0
    assert state.last_rejected_at == (T0 if rejection else None)


def test_an_impression_records_when_and_at_what_odds_the_market_was_shown(nba_market):
    ingest([make_impression(at=T0), make_impression(at=T0 + timedelta(minutes=2))], kind=IMPRESSION)
    state = UserMarketState.objects.get()
    assert (state.impressions_total, state.first_shown_at, state.last_shown_at) == (2, T0, T0 + timedelta(minutes=2))
    assert (state.probability_at_last_shown, state.volume_24h_at_last_shown) == (0.41, 5000.0)
    assert TopicAffinity.objects.count() == 0  # impressions carry no affinity weight


def test_the_profile_keeps_country_counts_and_dwell_per_category(nba_market):
    ingest([make_event(event_type="view_market", at=T0, dwell_ms=10_000, geo_country="il")])
    ingest([make_event(event_type="view_market", at=T0 + timedelta(minutes=1), dwell_ms=20_000)])
    profile = UserProfile.objects.get()
    assert profile.geo_country == "IL"
    assert profile.total_interactions == 2
    assert profile.category_dwell == {"Sports": {"count": 2, "total_ms": 30_000}}


def test_activity_is_counted_in_the_bucket_of_the_events_own_time_globally_and_per_country(nba_market):
    late = T0 - timedelta(hours=3, minutes=2)
    ingest([make_event(event_type="participate", at=late, geo_country="IL")], at=T0)
    ingest([make_event(event_type="click", at=T0, geo_country="IL")], user="u:2")
    rows = {
        (a.scope, a.bucket_start): (a.trades, a.clicks, a.engagements)
        for a in MarketActivity.objects.all()
    }
    assert rows == {
        ("global", datetime(2026, 3, 1, 8, 55, tzinfo=dt_timezone.utc)): (1, 0, 1),
        ("IL", datetime(2026, 3, 1, 8, 55, tzinfo=dt_timezone.utc)): (1, 0, 1),
        ("global", T0): (0, 1, 1),
        ("IL", T0): (0, 1, 1),
    }
    assert MarketActivityUser.objects.filter(scope="IL").count() == 2


def test_impressions_count_in_the_users_country_from_the_profile(nba_market):
    ingest([make_event(event_type="click", at=T0, geo_country="DE")])
    ingest([make_impression(at=T0 + timedelta(minutes=1))], kind=IMPRESSION)
    assert MarketActivity.objects.get(scope="DE", bucket_start=T0).impressions == 1


def test_a_duplicate_changes_no_state(nba_market):
    event = make_event(event_type="participate", at=T0)
    ingest([event])
    before = scores(), list(MarketActivity.objects.values_list("trades", flat=True))
    result = ingest([event])
    assert result.count("duplicate") == 1
    assert (scores(), list(MarketActivity.objects.values_list("trades", flat=True))) == before


def test_a_database_error_while_updating_state_stores_nothing_of_the_batch(nba_market, monkeypatch):
    """The state writes are pipelined on PostgreSQL, so an error may surface only when the block
    ends; either way the whole transaction, raw events included, rolls back."""
    from django.db import DatabaseError, connection

    from ingestion import services

    def broken_activity(*, events, countries):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(services, "market_activity_add", broken_activity)
    with pytest.raises(DatabaseError, match="no_such_table"):
        events_ingest(kind=INTERACTION, raw_events=[make_event(event_type="click", at=T0)], user_key="u:1",
                      received_at=T0)
    assert not Interaction.objects.exists()
    assert not UserMarketState.objects.exists()
    assert not TopicAffinity.objects.exists()
    assert not UserProfile.objects.exists()
