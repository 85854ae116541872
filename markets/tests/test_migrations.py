"""markets 0005: the snapshots' (market, taken_at) becomes unique; existing duplicates are deleted first."""
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("markets", "0004_trades_24h")]
AFTER = [("markets", "0005_state_at_snapshot_unique")]
AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_duplicate_snapshots_are_deleted_keeping_the_first_before_the_constraint():
    apps = _migrate(BEFORE)
    try:
        Market = apps.get_model("markets", "Market")
        Snapshot = apps.get_model("markets", "MarketSnapshot")
        market = Market.objects.create(market_id="m", title="M", category="Sports", probability=0.5, created_at=AT)
        values = dict(market=market, volume_24h=0, volume_total=0, participant_count=0)
        first = Snapshot.objects.create(taken_at=AT, probability=0.1, **values)
        Snapshot.objects.create(taken_at=AT, probability=0.2, **values)
        other = Snapshot.objects.create(taken_at=AT.replace(minute=15), probability=0.3, **values)
        apps = _migrate(AFTER)
        Snapshot = apps.get_model("markets", "MarketSnapshot")
        assert sorted(Snapshot.objects.values_list("id", "probability")) == [(first.id, 0.1), (other.id, 0.3)]
        assert apps.get_model("markets", "Market").objects.get().state_at is None
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
