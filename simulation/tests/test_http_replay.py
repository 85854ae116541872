"""A replay through the API (as_of, a service token) gives the same feeds as the simulator in process."""
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client

from feedproject.identity import REPLAY_PERMISSION, SERVICE_PERMISSION
from feedproject.tests.clients import token_header
from markets.models import MarketSnapshot
from ops.models import TaskRun
from personalization.selectors import caches_reset
from simulation.catalog import boosts_plan, catalog_write, world_build
from simulation.http_replay import HttpReplay, ReplayError
from simulation.metrics import summarize
from simulation.runner import arm_run
from simulation.strategies import ConfigFeed, RandomFeed
from simulation.tests.test_simulation_run import START
from tracking.models import Impression, Interaction, ServedItem

WORLD = {"users": 24, "days": 1, "markets": 150, "seed": 11, "start": START, "catalog": None}


def _run(world, transport=None):
    """One config arm on a fresh catalog, rolled back afterwards: its feeds as served, item by item."""
    with transaction.atomic():
        cache.clear()
        caches_reset()
        catalog_write(markets=world.markets, start=world.start,
                      boosts=boosts_plan(world.markets, seed=world.seed, start=world.start, days=world.days))
        log, runner = arm_run(world=world, strategy=ConfigFeed("v1", None), transport=transport)
        feeds = {}
        for feed_request_id, market_id, pool, reason, score in ServedItem.objects.order_by(
                "feed_request_id", "position").values_list("feed_request_id", "market__market_id", "pool",
                                                           "reason", "score"):
            feeds.setdefault(str(feed_request_id), []).append((market_id, pool, reason, score))
        stored = (Interaction.objects.count(), Impression.objects.count())
        transaction.set_rollback(True)
    return feeds, summarize(log), runner, stored


@pytest.mark.django_db
def test_a_replay_through_the_api_serves_the_same_feeds_as_the_simulator_in_process():
    world = world_build(**WORLD)
    token = token_header("evaluator", SERVICE_PERMISSION.split(".")[1], REPLAY_PERMISSION.split(".")[1],
                         "change_market")["Authorization"].split()[1]

    in_process, summary, runner, stored = _run(world)
    http = HttpReplay(token=token, client=Client())
    over_http, http_summary, http_runner, http_stored = _run(world, transport=http)

    assert 10 < len(in_process) <= runner.counts["feeds"]
    assert over_http == in_process
    assert http_summary == summary and http_stored == stored and stored[0] > 0
    assert http_runner.counts == runner.counts and runner.counts["rejected"] == 0
    # Every call went through the API: the feeds, the batches, the moves and the ticks with a due task.
    assert http.requests >= runner.counts["feeds"] + runner.counts["ingest_calls"] + runner.counts["moves"]


@pytest.mark.django_db
def test_the_api_refuses_a_replay_token_without_the_replay_permission():
    world = world_build(**{**WORLD, "users": 3, "markets": 30})
    token = token_header("service", SERVICE_PERMISSION.split(".")[1], "change_market")["Authorization"].split()[1]
    catalog_write(markets=world.markets, start=world.start, boosts=[])
    with pytest.raises(ReplayError, match="403"):
        arm_run(world=world, strategy=ConfigFeed("v1", None), transport=HttpReplay(token=token, client=Client()))


def test_only_the_real_feed_can_be_asked_for_over_http():
    world = world_build(**{**WORLD, "users": 3, "markets": 30})
    with pytest.raises(ValueError, match="only the real feed"):
        HttpReplay(token="x", client=Client()).feed(strategy=RandomFeed("random"), world=world, user_index=0,
                                                     now=datetime.fromtimestamp(START, UTC), feed_request_id="x",
                                                     limit=20)


@pytest.mark.django_db(transaction=True)
def test_it_calls_a_server_at_a_base_url(live_server):
    world = world_build(**{**WORLD, "users": 3, "markets": 30})
    catalog_write(markets=world.markets, start=world.start, boosts=[])
    permissions = (SERVICE_PERMISSION.split(".")[1], REPLAY_PERMISSION.split(".")[1], "change_market")
    replay = HttpReplay(token=token_header("evaluator", *permissions)["Authorization"].split()[1],
                        base_url=live_server.url)
    at = datetime.fromtimestamp(START + 3600, UTC)
    market_id = world.markets[0].market_id

    replay.market_update(market_id=market_id, changes={"probability": 0.77}, at=at)
    replay.beat(due={"velocity", "trending"}, now=at)
    items = replay.feed(strategy=ConfigFeed("v1", None), world=world, user_index=0, now=at,
                        feed_request_id="5b1c3c8e-0d7e-4c1e-9a53-2d4f6f1c0a11", limit=5)

    assert MarketSnapshot.objects.filter(market__market_id=market_id, taken_at=at, probability=0.77).exists()
    assert set(TaskRun.objects.values_list("name", "last_success_at")) == {
        ("markets.velocity_refresh", at), ("markets.trending_refresh", at)}
    assert len(items) == 5 and all(0 <= m < len(world.markets) and pool for m, pool in items)
    with pytest.raises(ReplayError, match="404"):
        replay.market_update(market_id="no-such-market", changes={"probability": 0.5}, at=at)
