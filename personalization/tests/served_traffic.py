"""Served traffic for the learned ranker's tests: users who like Sports meet the real feed."""
import random
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from ingestion.tests.conftest import make_event, make_impression
from markets.tests.factories import MarketFactory, TagFactory
from personalization.selectors import caches_reset
from personalization.services import feed_serve
from personalization.training import TrainingSettings
from tracking.tests.pipeline_data import ingest, ingest_impressions

SMALL = TrainingSettings(window_days=14, min_rows=300, min_positives=10, auto_activate=False)


@pytest.fixture
def base():
    caches_reset()
    return timezone.now().replace(microsecond=0) - timedelta(days=2)


@pytest.fixture
def markets():
    nba, senate = TagFactory(label="NBA"), TagFactory(label="Senate")
    return {m.market_id: m for m in [
        # Titles that differ in words, not numbers: else they would all be one near-duplicate group.
        *(MarketFactory(category="Sports", tags=[nba], market_id=f"sports-{i}", title=f"Will team {_name(i)} win?")
          for i in range(30)),
        *(MarketFactory(category="Politics", tags=[senate], market_id=f"politics-{i}",
                        title=f"Will senator {_name(i)} win?") for i in range(30)),
    ]}


def _name(i):
    return chr(ord("a") + i // 26) + chr(ord("a") + i % 26)


def traffic(markets, base, *, users=12, feeds=6, seed=0):
    """Users who like Sports ask the real feed (feed_serve), look at 8 items, click Sports far more often."""
    rng = random.Random(seed)
    for k in range(feeds):
        for u in range(users):
            t = base + timedelta(minutes=40 * k, seconds=5 * u)
            user = f"u:{u}"
            # Feed ids from the seed: exploration is seeded by them, so the traffic is the same every run.
            result = feed_serve(user_key=user, limit=10, now=t, feed_request_id=uuid.UUID(int=rng.getrandbits(128)))
            shown, clicks = [], []
            for item in result.ranking.items[:8]:
                market_id = result.catalog.market_id[item.index]
                where = {"user_key": user, "feed_request_id": result.feed_request_id, "position": item.position}
                shown.append(make_impression(market_id, at=t, **where))
                chance = (0.45 if markets[market_id].category == "Sports" else 0.03) * (1 + item.position) ** -0.5
                if rng.random() < chance:
                    clicks.append(make_event(market_id, "click", at=t + timedelta(seconds=1), **where))
            ingest_impressions(shown, received_at=t + timedelta(seconds=2))
            if clicks:
                ingest(clicks, received_at=t + timedelta(seconds=2))
