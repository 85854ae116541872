import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from markets.tests.factories import MarketFactory, TagFactory


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def nba_market(db):
    return MarketFactory(
        market_id="lebron-mvp", category="Sports", tags=[TagFactory(label="NBA"), TagFactory(label="LeBron")],
        probability=0.41, volume_24h=5000.0,
    )


def make_event(market_id="lebron-mvp", event_type="click", at=None, **extra):
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "market_id": market_id,
        "occurred_at": (at or timezone.now()).isoformat(),
        **extra,
    }


def make_impression(market_id="lebron-mvp", at=None, **extra):
    return {
        "event_id": str(uuid.uuid4()),
        "market_id": market_id,
        "shown_at": (at or timezone.now()).isoformat(),
        **extra,
    }
