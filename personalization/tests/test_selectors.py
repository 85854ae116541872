"""profile_get, the read behind GET /api/profile, and the hits and misses user_data_load reads."""
from datetime import UTC, datetime, timedelta

import pytest

from markets.tests.factories import MarketFactory, TagFactory
from personalization.models import TopicAffinity, UserMarketState, UserProfile
from personalization.selectors import catalog_build, profile_get, user_data_load
from tracking.models import Interaction

pytestmark = pytest.mark.django_db
AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_a_user_never_seen_has_an_empty_profile():
    assert profile_get(user_key="a:nobody", now=AT) == {
        "user_key": "a:nobody", "country": "", "last_active_at": None, "session_started_at": None,
        "total_interactions": 0, "affinities": {"long": [], "session": []}, "recent": [],
    }


def test_affinities_are_decayed_to_the_given_now_and_sorted_best_first():
    for topic, score in (("Sports", 2.0), ("Crypto", 8.0), ("Weather", -1.0)):
        TopicAffinity.objects.create(
            user_key="u:1", horizon="long", topic_type="category", topic_value=topic, score=score, updated_at=AT
        )
    TopicAffinity.objects.create(
        user_key="u:1", horizon="session", topic_type="tag", topic_value="nba", score=1.0, updated_at=AT
    )
    later = profile_get(user_key="u:1", now=AT + timedelta(days=30))  # one long half-life, 1440 session ones
    assert later["affinities"]["long"] == [
        {"topic_type": "category", "topic": "Crypto", "value": 4.0},
        {"topic_type": "category", "topic": "Sports", "value": 1.0},
        {"topic_type": "category", "topic": "Weather", "value": -0.5},
    ]
    assert later["affinities"]["session"] == [{"topic_type": "tag", "topic": "nba", "value": 0.0}]


def test_recent_lists_the_last_fifty_interactions_of_the_week_before_now_newest_first():
    UserProfile.objects.create(user_key="u:1", created_at=AT, last_active_at=AT, geo_country="IL",
                               total_interactions=61)
    market = MarketFactory(market_id="lebron-mvp")
    Interaction.objects.bulk_create(
        [Interaction(user_key="u:1", market=market, event_type="click", occurred_at=AT - timedelta(hours=k),
                     received_at=AT, event_id=f"00000000-0000-0000-0000-{k:012d}")
         for k in range(60)]
        + [Interaction(user_key="u:1", market=market, event_type="bookmark", occurred_at=AT - timedelta(days=8),
                       received_at=AT, event_id="00000000-0000-0000-0001-000000000000")]
    )
    profile = profile_get(user_key="u:1", now=AT)
    assert (profile["country"], profile["total_interactions"], profile["last_active_at"]) == ("IL", 61, AT)
    assert [e["occurred_at"] for e in profile["recent"]] == [AT - timedelta(hours=k) for k in range(50)]
    assert profile_get(user_key="u:1", now=AT + timedelta(days=10))["recent"] == []


# --- hits and misses per topic (user_data_load) ----------------------------------------------


def _state(market, *, shown=None, positive=None, user="u:1"):
    UserMarketState.objects.create(user_key=user, market=market, last_shown_at=shown, last_positive_at=positive,
                                   impressions_total=1 if shown else 0, updated_at=AT)


def test_hits_and_misses_decay_with_the_long_half_life_and_closed_markets_still_count():
    nba = TagFactory(slug="nba")
    _state(MarketFactory(category="Sports", tags=[nba]), shown=AT - timedelta(days=30))  # a miss, one half-life ago
    _state(MarketFactory(category="Sports", tags=[nba], status="resolved"), shown=AT - timedelta(days=40),
           positive=AT)  # a hit now, on a market since resolved
    _state(MarketFactory(category="Crypto"), shown=AT - timedelta(days=200))  # beyond the window
    _state(MarketFactory(category="Crypto"), shown=AT - timedelta(days=1), user="u:2")  # someone else's
    catalog = catalog_build()
    loaded = user_data_load(user_key="u:1", catalog=catalog, now=AT)
    long, session = loaded.hits_long, loaded.hits_session
    assert long.keys() == {("category", "Sports"), ("tag", "nba")}
    for topic in long:
        assert long[topic] == (pytest.approx(1.0), pytest.approx(1.5))
    assert session == {}  # no live session
    later = user_data_load(user_key="u:1", catalog=catalog, now=AT + timedelta(days=30)).hits_long
    assert later[("category", "Sports")] == (pytest.approx(0.5), pytest.approx(0.75))


def test_the_session_horizon_counts_only_the_showings_since_the_session_started():
    started = AT - timedelta(minutes=20)
    UserProfile.objects.create(user_key="u:1", created_at=started, last_active_at=AT - timedelta(minutes=1),
                               session_started_at=started)
    _state(MarketFactory(category="Sports"), shown=AT - timedelta(minutes=5))  # a miss this session
    _state(MarketFactory(category="Sports"), shown=AT - timedelta(minutes=10), positive=AT - timedelta(minutes=9))
    _state(MarketFactory(category="Sports"), shown=AT - timedelta(hours=3))  # before the session
    _state(MarketFactory(category="Sports"), shown=AT - timedelta(minutes=2), positive=AT - timedelta(days=2))
    loaded = user_data_load(user_key="u:1", catalog=catalog_build(), now=AT)
    long, session = loaded.hits_long, loaded.hits_session
    assert session == {("category", "Sports"): (1.0, 3.0)}  # engaged with once since the start, of three shown
    assert long[("category", "Sports")][1] == pytest.approx(4.0, abs=0.01)


def test_user_data_load_reads_the_session_counts_only_while_the_session_is_live():
    UserProfile.objects.create(user_key="u:1", created_at=AT, last_active_at=AT - timedelta(minutes=1),
                               session_started_at=AT - timedelta(minutes=10))
    market = MarketFactory(category="Sports")
    _state(market, shown=AT - timedelta(minutes=5))
    catalog = catalog_build()
    live = user_data_load(user_key="u:1", catalog=catalog, now=AT)
    assert live.hits_session == {("category", "Sports"): (0.0, 1.0)}
    assert live.hits_long[("category", "Sports")][0] == 0
    idle = user_data_load(user_key="u:1", catalog=catalog, now=AT + timedelta(hours=1))  # the session ended
    assert idle.hits_session == {} and idle.hits_long


def test_coengagement_sums_the_engagers_other_engagements_decayed_by_age_within_30_days():
    import uuid

    from markets.models import Market
    from personalization.selectors import coengagement_load

    x, y, z, gone = (MarketFactory() for _ in range(4))
    gone_pk = gone.pk
    Market.objects.filter(pk=gone_pk).update(status=Market.Status.RESOLVED)

    def engage(user, market, days_ago, event_type="participate"):
        at = AT - timedelta(days=days_ago)
        Interaction.objects.create(event_id=uuid.uuid4(), user_key=user, market=market, event_type=event_type,
                                   occurred_at=at, received_at=at)

    engage("u:a", x, 1)
    engage("u:a", y, 7)  # a half-life old: 0.5
    engage("u:a", z, 0)  # 1.0
    engage("u:b", x, 20)
    engage("u:b", y, 14)  # 0.25
    engage("u:b", y, 31)  # out of the window
    engage("u:b", gone, 0)  # not an open market
    engage("u:b", z, 0, event_type="skip_fast")  # not an engagement
    engage("u:c", y, 0)  # never engaged with x
    engage("u:d", x, 40)  # engaged with x outside the window: not an engager
    engage("u:d", z, 0)
    engage("u:e", x, 0, event_type="skip_fast")  # not an engagement of x
    engage("u:e", z, 0)
    engage("u:a", x, -1)  # after now: not yet
    catalog = catalog_build()
    weights, engagers = coengagement_load(market_pk=x.pk, catalog=catalog, now=AT)
    index = catalog.index_of_pk
    assert engagers == 2
    assert weights.keys() == {index[y.pk], index[z.pk]}
    assert weights[index[y.pk]] == pytest.approx(0.75)
    assert weights[index[z.pk]] == pytest.approx(1.0)
    assert coengagement_load(market_pk=z.pk, catalog=catalog, now=AT)[0][index[x.pk]] == pytest.approx(2 ** (-1 / 7))
    assert coengagement_load(market_pk=MarketFactory().pk, catalog=catalog, now=AT) == ({}, 0)  # a new market


def test_a_much_engaged_markets_coengagement_is_reused_for_ten_minutes_of_the_request_clock(monkeypatch):
    import uuid

    from personalization import selectors

    monkeypatch.setattr(selectors, "COENGAGEMENT_CACHE_MIN_USERS", 2)
    x, y, z, w = (MarketFactory() for _ in range(4))

    def engage(user, market, at=AT):
        Interaction.objects.create(event_id=uuid.uuid4(), user_key=user, market=market, event_type="click",
                                   occurred_at=at, received_at=at)

    engage("u:a", x)
    engage("u:a", y)
    catalog = catalog_build()
    index = catalog.index_of_pk
    load = lambda market, now=AT: selectors.coengagement_load(market_pk=market.pk, catalog=catalog, now=now)[0]  # noqa: E731
    assert load(x).keys() == {index[y.pk]}
    engage("u:b", x)
    engage("u:b", z)
    assert load(x).keys() == {index[y.pk], index[z.pk]}  # one engager was below the minimum: not cached
    engage("u:c", x)
    engage("u:c", w)
    assert load(x).keys() == {index[y.pk], index[z.pk]}  # two engagers: cached
    assert load(x, AT + timedelta(minutes=10)).keys() == {index[y.pk], index[z.pk]}
    assert load(x, AT + timedelta(minutes=10, seconds=1)).keys() == {index[y.pk], index[z.pk], index[w.pk]}
    assert load(x, AT - timedelta(days=1)) == {}  # another clock computes its own: nobody had engaged then


def test_the_beat_stores_the_coengagement_of_much_engaged_markets_and_requests_read_it_while_fresh(monkeypatch):
    import uuid

    from personalization import selectors, services
    from personalization.models import MarketCoengagement

    monkeypatch.setattr(selectors, "COENGAGEMENT_CACHE_MIN_USERS", 2)
    x, y, z, w = (MarketFactory() for _ in range(4))

    def engage(user, market, at=AT - timedelta(hours=1)):
        Interaction.objects.create(event_id=uuid.uuid4(), user_key=user, market=market, event_type="click",
                                   occurred_at=at, received_at=at)

    for user in ("u:a", "u:b"):
        engage(user, x)
        engage(user, y)
    engage("u:a", z)  # z has one engager: below the minimum, never stored
    assert services.coengagement_refresh(now=AT) == {"markets": 2, "dropped": 0}
    stored = {row.market_id: row for row in MarketCoengagement.objects.all()}
    assert stored.keys() == {x.pk, y.pk}
    assert stored[x.pk].engagers == 2 and stored[x.pk].computed_at == AT
    pairs, engagers = selectors.coengagement_compute(market_pk=x.pk, now=AT)
    assert stored[x.pk].pairs == [list(pair) for pair in pairs] and engagers == 2

    catalog = catalog_build()
    index = catalog.index_of_pk
    load = lambda now: selectors.coengagement_load(market_pk=x.pk, catalog=catalog, now=now)  # noqa: E731
    # A request reads the stored row, not the engagements: engagements since then are not in it ...
    engage("u:a", w, at=AT)
    hour = 2 ** (-1 / (7 * 24))  # an engagement an hour old
    expected = {index[y.pk]: pytest.approx(2 * hour), index[z.pk]: pytest.approx(hour)}
    assert load(AT + timedelta(minutes=9)) == (expected, 2)
    # ... until the row is older than 10 minutes of the request's clock: then it computes its own.
    assert index[w.pk] in load(AT + timedelta(minutes=11))[0]
    assert load(AT - timedelta(days=1)) == ({}, 0)  # another clock: nobody had engaged then
    # The next run replaces the rows, and drops a market that no longer has enough engagers.
    Interaction.objects.filter(market=y, user_key="u:b").delete()
    assert services.coengagement_refresh(now=AT + timedelta(minutes=5)) == {"markets": 1, "dropped": 1}
    assert list(MarketCoengagement.objects.values_list("market_id", "computed_at")) == [
        (x.pk, AT + timedelta(minutes=5))]
