"""sessions_expire: the session horizon of users idle for more than 30 minutes is cleared."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from markets.tests.factories import MarketFactory
from personalization.decay import sessions_expire
from personalization.models import TopicAffinity, UserProfile
from tracking.tests.pipeline_data import event, ingest

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 26, 12, 5, tzinfo=dt_timezone.utc)


def horizons(user):
    return sorted(set(TopicAffinity.objects.filter(user_key=user).values_list("horizon", flat=True)))


@pytest.fixture
def users():
    m = MarketFactory(category="Sports")
    ingest([event(m, "u:idle", "click", NOW - timedelta(minutes=31))], received_at=NOW - timedelta(minutes=31))
    ingest([event(m, "u:active", "click", NOW - timedelta(minutes=29))], received_at=NOW - timedelta(minutes=29))
    return m


def test_an_idle_user_loses_the_session_horizon_and_keeps_the_long_one(users):
    assert horizons("u:idle") == ["long", "session"]
    assert sessions_expire(now=NOW) == {"users": 1, "deleted": 1}
    assert horizons("u:idle") == ["long"]
    assert horizons("u:active") == ["long", "session"]


def test_a_second_run_changes_nothing(users):
    sessions_expire(now=NOW)
    rows = sorted(TopicAffinity.objects.values_list("user_key", "horizon", "topic_value", "score"))
    assert sessions_expire(now=NOW) == {"users": 0, "deleted": 0}
    assert sorted(TopicAffinity.objects.values_list("user_key", "horizon", "topic_value", "score")) == rows


def test_the_next_event_after_expiry_starts_a_fresh_session(users):
    sessions_expire(now=NOW)
    ingest([event(users, "u:idle", "click", NOW)], received_at=NOW)
    session = TopicAffinity.objects.get(user_key="u:idle", horizon="session", topic_value="Sports")
    assert session.score == 2.0  # only the new click: the old session did not come back
    assert UserProfile.objects.get(user_key="u:idle").session_started_at == NOW


def test_a_run_killed_between_chunks_is_finished_by_the_next_one():
    m = MarketFactory()
    ingest(
        [event(m, f"u:{k}", "click", NOW - timedelta(hours=1)) for k in range(5)], received_at=NOW - timedelta(hours=1)
    )

    class Killed(BaseException):
        pass

    def die():
        raise Killed

    with pytest.raises(Killed):
        sessions_expire(now=NOW, chunk_users=2, on_chunk=die)
    assert TopicAffinity.objects.filter(horizon="session").count() == 3
    assert sessions_expire(now=NOW, chunk_users=2) == {"users": 3, "deleted": 3}
    assert not TopicAffinity.objects.filter(horizon="session").exists()
