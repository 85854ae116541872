"""Impressions teach: showings without engagement lower a topic in the feed, engaged ones raise it
(ingested events, then the feed's own read and score)."""
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ingestion.services import IMPRESSION, INTERACTION, events_ingest
from ingestion.tests.conftest import make_event, make_impression
from markets.tests.factories import MarketFactory, TagFactory
from personalization.ranking.features import score
from personalization.ranking.params import FeedParams
from personalization.selectors import caches_reset, catalog_build, user_data_load

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def markets():
    caches_reset()
    nba, election = TagFactory(slug="nba"), TagFactory(slug="election")
    sports = [MarketFactory(market_id=f"sports-{k}", category="Sports", tags=[nba]) for k in range(60)]
    politics = [MarketFactory(market_id=f"politics-{k}", category="Politics", tags=[election]) for k in range(10)]
    return sports, politics


def ingest(kind, events, at):
    result = events_ingest(kind=kind, raw_events=events, user_key="u:1", received_at=at)
    assert result.count("rejected") == 0, result.results


def relevance_and_hits(now):
    catalog = catalog_build()
    user = user_data_load(user_key="u:1", catalog=catalog, now=now)
    scored = score(catalog, user, FeedParams.from_dict(), now.timestamp())
    unseen = np.isin(catalog.market_id, [f"sports-{k}" for k in range(50, 60)])  # never shown in either test
    return scored.relevance[unseen].mean(), scored.features["hits_long"][unseen].mean(), scored, catalog


def test_fifty_sports_markets_passed_over_rank_sports_lower_than_before(markets):
    sports, politics = markets
    ingest(INTERACTION, [make_event(market_id="sports-0", at=T0), make_event(market_id="politics-0", at=T0)], T0)
    before, hits_before, _, _ = relevance_and_hits(T0 + timedelta(minutes=1))
    shown_at = T0 + timedelta(minutes=2)
    ingest(IMPRESSION, [make_impression(market_id=m.market_id, at=shown_at) for m in sports[1:51]], shown_at)
    after, hits_after, scored, catalog = relevance_and_hits(T0 + timedelta(minutes=3))
    assert hits_before > 0 > -0.3 > hits_after  # the click was a hit; then 50 misses
    assert after < before
    by_category = {c: scored.relevance[catalog.category == i].mean() for i, c in enumerate(catalog.categories)}
    assert by_category["Sports"] < by_category["Politics"]  # equal affinities, but Sports keeps being passed over


def test_sports_markets_engaged_with_raise_sports(markets):
    sports, _ = markets
    ingest(INTERACTION, [make_event(market_id="politics-0", at=T0)], T0)
    shown_at = T0 + timedelta(minutes=1)
    ingest(IMPRESSION, [make_impression(market_id=f"politics-{k}", at=shown_at) for k in range(1, 10)], shown_at)
    _, hits_before, _, _ = relevance_and_hits(T0 + timedelta(minutes=2))
    at = T0 + timedelta(minutes=3)
    ingest(IMPRESSION, [make_impression(market_id=m.market_id, at=at) for m in sports[:20]], at)
    ingest(INTERACTION, [make_event(market_id=m.market_id, event_type="view_market", at=at) for m in sports[:10]], at)
    _, hits_after, _, _ = relevance_and_hits(T0 + timedelta(minutes=4))
    assert hits_after > hits_before + 0.3
