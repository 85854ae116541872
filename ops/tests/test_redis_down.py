"""Redis down (cache and broker on a closed port): events are stored, the feed and every pipeline
endpoint answer, the periodic tasks still run and lock. Nothing returns 500."""
import uuid
from datetime import timedelta

import pytest
import redis
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from feedproject.celery import app
from markets.models import MarketVelocity
from markets.tests.factories import MarketFactory
from ops.locks import lock_acquire
from ops.periodic import PERIODIC_TASKS
from ops.services import SKIPPED, periodic_task_run, periodic_task_run_here
from tracking.models import Interaction, MarketActivity
from tracking.velocity import market_velocity_refresh

pytestmark = pytest.mark.django_db
CLOSED = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(settings, monkeypatch):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED,
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    monkeypatch.setattr(app.conf, "broker_url", CLOSED)
    with pytest.raises((redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        cache.set("probe", 1)  # really down
    return CLOSED


def test_tracking_still_stores_events(redis_down):
    market = MarketFactory()
    body = {"events": [{"event_id": str(uuid.uuid4()), "event_type": "click", "market_id": market.market_id,
                        "occurred_at": timezone.now().isoformat(), "geo_country": "IL"}]}
    response = APIClient().post("/api/track", body, format="json")
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert Interaction.objects.count() == 1
    assert MarketActivity.objects.filter(scope="IL").exists()


def test_the_periodic_tasks_still_run_and_still_lock(redis_down):
    MarketFactory()
    for name in PERIODIC_TASKS:
        assert periodic_task_run_here(name) != SKIPPED
    assert MarketVelocity.objects.exists()
    assert lock_acquire(name="markets.velocity_refresh", now=timezone.now(), duration=timedelta(minutes=5))
    assert periodic_task_run(
        name="markets.velocity_refresh", run=market_velocity_refresh, now=timezone.now()
    ) == SKIPPED


def test_the_feed_trending_and_health_endpoints_answer(redis_down):
    MarketFactory.create_batch(3)
    for name in PERIODIC_TASKS:
        periodic_task_run_here(name)
    client = APIClient()
    feed = client.get("/api/feed?surface=home&limit=5")
    assert feed.status_code == 200 and "sections" in feed.json()
    assert client.get("/api/trending?scope=IL").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["cache"]["ok"] is False
