"""The live dashboard: figures from the served log per day, pool, surface and ranker, stored with charts
by its beat task, and the admin page that shows the latest snapshot."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from markets.tests.factories import MarketFactory
from personalization.dashboard import KEEP, dashboard_compute, dashboard_refresh
from personalization.models import DashboardSnapshot
from tracking.services import served_items_store
from tracking.tests.pipeline_data import event, impression, ingest, ingest_impressions

pytestmark = pytest.mark.django_db


@pytest.fixture
def traffic():
    """Two users, two days: day 1 one feed of 4 (personal, personal, exploration, trending), 1 click and a
    hide; day 2 one feed of 2 with 2 clicks, one of them a bet too."""
    now = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    markets = [MarketFactory(market_id=f"d-{k}", title=f"Question {k}") for k in range(4)]
    plan = [
        (now - timedelta(hours=25), "u:1", [("personal", ["click"]), ("personal", []), ("exploration", ["hide"]),
                                          ("trending_global", [])]),
        (now - timedelta(hours=2), "u:2", [("personal", ["click", "participate"]), ("editorial", ["click"])]),
    ]
    impressions, events = [], []
    for k, (at, user, items) in enumerate(plan):
        feed = f"00000000-0000-0000-0000-00000000000{k}"
        served_items_store(feed_request_id=feed, user_key=user, surface="home", served_at=at, items=[
            (markets[j].pk, 3, 7 if k else None, j, pool, pool, 0.5, {}, None, "") for j, (pool, _) in enumerate(items)
        ])
        for j, (_, kinds) in enumerate(items):
            impressions.append({**impression(markets[j], user, at), "feed_request_id": feed, "position": j})
            events += [event(markets[j], user, kind, at + timedelta(seconds=5 + n), feed_request_id=feed)
                       for n, kind in enumerate(kinds)]
    ingest_impressions(impressions, received_at=now)
    ingest(events, received_at=now)
    return now, markets


def test_the_figures_count_rendered_items_and_what_was_done_from_them(traffic):
    now, markets = traffic
    data = dashboard_compute(now=now)
    assert data["rendered_items"] == 6 and data["open_markets"] == 4
    first, second = data["days"]
    assert (first["impressions"], first["clicks"], first["rejected"], first["engaged"]) == (4, 1, 1, 0)
    assert (second["impressions"], second["clicks"], second["engaged"]) == (2, 2, 1)
    assert first["ctr"] == 0.25 and second["ctr"] == 1.0 and first["coverage"] == 1.0 and second["coverage"] == 0.5
    pools = {(p["day"], p["name"]): p["ctr"] for p in data["pool"]}
    assert pools[(first["day"], "personal")] == 0.5 and pools[(first["day"], "exploration")] == 0.0
    rankers = {(r["day"], r["name"]) for r in data["ranker"]}
    assert rankers == {(first["day"], "home v3"), (second["day"], "home v3 + model v7")}
    # The top markets are the last 24 h's: the second feed's two.
    assert [m["market_id"] for m in data["top_markets"]] == ["d-0", "d-1"]


def test_the_beat_task_stores_snapshots_with_charts_and_keeps_the_latest(traffic):
    now, _ = traffic
    result = dashboard_refresh(now=now)
    assert result["rendered_items"] == 6
    snapshot = DashboardSnapshot.objects.get()
    assert set(snapshot.charts) == {"ctr_by_pool", "health"}
    assert all(uri.startswith("data:image/svg+xml;base64,") for uri in snapshot.charts.values())
    DashboardSnapshot.objects.bulk_create([DashboardSnapshot(computed_at=now - timedelta(minutes=k), data={})
                                           for k in range(1, KEEP + 5)])
    assert dashboard_refresh(now=now + timedelta(minutes=15))["deleted"] == 5 + 1
    assert DashboardSnapshot.objects.count() == KEEP
    assert DashboardSnapshot.objects.latest().computed_at == now + timedelta(minutes=15)


def test_the_admin_page_shows_the_latest_snapshot_and_says_when_there_is_none(traffic, admin_client):
    url = reverse("admin:personalization_dashboardsnapshot_changelist")
    assert "No figures yet" in admin_client.get(url).content.decode()
    now, _ = traffic
    dashboard_refresh(now=now)
    page = admin_client.get(url).content.decode()
    assert 'id="dashboard-days"' in page and "Question 0" in page and "home v3 + model v7" in page
    assert page.count('src="data:image/svg+xml;base64,') == 2
    assert "style=" not in page.split('id="dashboard"')[1]  # the site's CSP refuses inline styles
