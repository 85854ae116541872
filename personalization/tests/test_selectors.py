"""profile_get: the read behind GET /api/profile."""
from datetime import UTC, datetime, timedelta

import pytest

from markets.tests.factories import MarketFactory
from personalization.models import TopicAffinity, UserProfile
from personalization.selectors import profile_get
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
