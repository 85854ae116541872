"""raw_events_retention_apply: raw impressions and served feeds over 30 days old go, their counts stay."""
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from markets.tests.factories import MarketFactory
from personalization.models import UserMarketState
from tracking.models import Impression, MarketActivity, MarketActivityUser, ServedItem
from tracking.services import raw_events_retention_apply, served_items_store
from tracking.tests.pipeline_data import impression, ingest_impressions

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 26, 3, 30, tzinfo=dt_timezone.utc)


@pytest.fixture
def shown():
    m = MarketFactory()
    old = [impression(m, "u:1", NOW - timedelta(days=31, minutes=k)) for k in range(5)]
    ingest_impressions(old, received_at=NOW - timedelta(days=31))
    ingest_impressions([impression(m, "u:1", NOW - timedelta(days=29))], received_at=NOW - timedelta(days=29))
    for days in (31, 31, 29):
        served_items_store(
            feed_request_id=uuid.uuid4(), user_key="u:1", surface="home", served_at=NOW - timedelta(days=days),
            items=[(m.pk, 1, None, 0, "personal", "personal", 0.5, {"final": 0.5}, None, "")],
        )
    return m


def counters():
    return (
        sorted(MarketActivity.objects.values_list("bucket_start", "impressions")),
        list(UserMarketState.objects.values_list("user_key", "impressions_total", "first_shown_at", "last_shown_at")),
    )


def test_impressions_older_than_30_days_are_deleted_and_their_counts_stay(shown):
    before = counters()
    assert raw_events_retention_apply(now=NOW) == {"impression": 5, "serveditem": 2, "marketactivityuser": 2}
    assert Impression.objects.count() == 1
    assert list(ServedItem.objects.values_list("served_at", flat=True)) == [NOW - timedelta(days=29)]
    assert MarketActivityUser.objects.count() == 1
    assert counters() == before
    assert before[1][0][1] == 6


def test_a_second_run_deletes_nothing(shown):
    raw_events_retention_apply(now=NOW)
    assert raw_events_retention_apply(now=NOW) == {"impression": 0, "serveditem": 0, "marketactivityuser": 0}
    assert Impression.objects.count() == 1


def test_a_run_killed_between_chunks_is_finished_by_the_next_one(shown):
    class Killed(BaseException):
        pass

    def die():
        raise Killed

    with pytest.raises(Killed):
        raw_events_retention_apply(now=NOW, chunk=2, on_chunk=die)
    assert Impression.objects.count() == 4  # the two oldest went
    assert raw_events_retention_apply(now=NOW, chunk=2)["impression"] == 3
    assert list(Impression.objects.values_list("shown_at", flat=True)) == [NOW - timedelta(days=29)]
