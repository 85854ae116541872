from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from markets.models import Market, MarketSnapshot
from markets.services import market_snapshots_refresh
from markets.tests.factories import MarketFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 26, 10, 7, tzinfo=dt_timezone.utc)


def test_it_snapshots_each_open_market_once_per_quarter_hour():
    open_markets = MarketFactory.create_batch(3)
    MarketFactory(status=Market.Status.RESOLVED)
    assert market_snapshots_refresh(now=NOW) == 3
    assert market_snapshots_refresh(now=NOW + timedelta(minutes=5)) == 0  # same 10:00-10:15 slot
    assert set(MarketSnapshot.objects.values_list("market_id", flat=True)) == {m.pk for m in open_markets}
    assert market_snapshots_refresh(now=NOW + timedelta(minutes=8)) == 3  # 10:15 slot
    assert MarketSnapshot.objects.count() == 6


def test_a_run_that_died_half_way_is_completed_by_the_next():
    first, second = MarketFactory.create_batch(2)
    MarketSnapshot.objects.create(
        market=first, taken_at=NOW, probability=0.5, volume_24h=1, volume_total=1, participant_count=1
    )
    assert market_snapshots_refresh(now=NOW) == 1
    assert MarketSnapshot.objects.filter(market=second).count() == 1
