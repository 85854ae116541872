"""Small simulated runs: an arm drives the real services, and `simulate` is deterministic for a seed
and writes its JSON and PNG."""
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import transaction

from markets.models import MarketSnapshot
from personalization.feed_configs import feed_config_save_version
from personalization.models import FeedConfig, UserMarketState
from personalization.ranking.config import default_params
from personalization.selectors import caches_reset
from simulation.catalog import boosts_plan, catalog_write, world_build
from simulation.compare import config_resolve
from simulation.metrics import summarize
from simulation.runner import arm_run
from simulation.strategies import ConfigFeed, RandomFeed
from tracking.models import Impression, Interaction, RejectedEvent

START = 1_800_000_000.0 - 1_800_000_000.0 % 86400
SMALL = {"users": 20, "days": 1, "markets": 100, "seed": 5, "start": START, "catalog": None}


@pytest.fixture
def small_world():
    return world_build(**SMALL)


@pytest.mark.django_db
def test_a_config_arm_drives_ingestion_and_the_feed(small_world):
    w = small_world
    boosts = boosts_plan(w.markets, seed=w.seed, start=w.start, days=1)
    catalog_write(markets=w.markets, start=w.start, boosts=boosts)
    log, runner = arm_run(world=w, strategy=ConfigFeed("v1", None))

    assert runner.counts["rejected"] == 0 and not RejectedEvent.objects.exists()
    assert log.feeds and Impression.objects.count() == len(log.showings)
    assert Interaction.objects.filter(event_type="click").count() == sum(s.clicked for s in log.showings)
    assert UserMarketState.objects.exists()
    assert MarketSnapshot.objects.filter(taken_at__gt=datetime.fromtimestamp(w.start, UTC)).exists()  # moves
    assert FeedConfig.objects.get(is_active=True, surface="home").note == "simulation: v1"
    assert summarize(log)["overall"]["repeated_feeds"] == 0  # the caps hold on the real feed


def _config_arm_summary(world):
    """One run of an arm that drives the real services, rolled back afterwards."""
    with transaction.atomic():
        cache.clear()
        caches_reset()
        catalog_write(markets=world.markets, start=world.start,
                      boosts=boosts_plan(world.markets, seed=world.seed, start=world.start, days=1))
        summary = summarize(arm_run(world=world, strategy=ConfigFeed("v1", None))[0])
        transaction.set_rollback(True)
    return summary


@pytest.mark.django_db
def test_a_seeded_run_gives_the_same_table_whatever_day_it_runs_on(small_world):
    today = _config_arm_summary(small_world)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=400), tick=True):
        next_year = _config_arm_summary(world_build(**SMALL))
    assert today["overall"]["impressions"] > 0
    assert today == next_year


def test_a_baseline_arm_is_deterministic_for_a_seed():
    first = summarize(arm_run(world=world_build(**SMALL), strategy=RandomFeed("random"))[0])
    second = summarize(arm_run(world=world_build(**SMALL), strategy=RandomFeed("random"))[0])
    assert first == second and first["overall"]["impressions"] > 0


@pytest.mark.django_db
def test_simulate_writes_json_and_png_and_repeats_itself_for_a_seed(tmp_path, capsys):
    params = default_params()
    params["quotas"].update(personal=0.6, exploration=0.05)
    version = feed_config_save_version(surface="home", params=params, note="", created_by=None, activate=False).version
    args = ["--users", "20", "--days", "1", "--markets", "100", "--seed", "5", "--config-a", str(version),
            "--start", "2027-01-04T00:00:00+00:00"]

    call_command("simulate", *args, "--out", str(tmp_path / "a"))
    output = capsys.readouterr().out
    call_command("simulate", *args, "--out", str(tmp_path / "b"))

    first = json.loads((tmp_path / "a" / "results.json").read_text())
    second = json.loads((tmp_path / "b" / "results.json").read_text())
    assert [arm["name"] for arm in first["arms"]] == [
        f"home v{version}", "v2 (tuned)", "original formula", "random", "most popular"]
    assert [arm["summary"] for arm in first["arms"]] == [arm["summary"] for arm in second["arms"]]
    assert first["arms"][0]["params"]["quotas"]["personal"] == 0.6
    assert (tmp_path / "a" / "metrics_by_day.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for arm in first["arms"]:
        assert arm["name"] in output
        assert len(arm["summary"]["per_day"]) == 1
    assert "CTR personal" in output


@pytest.mark.django_db
def test_configs_resolve_from_versions_the_active_one_and_files(tmp_path):
    params = default_params()
    params["weights"]["interest"] = 0.9
    version = feed_config_save_version(surface="home", params=params, note="", created_by=None, activate=True).version
    change = {"label": "more trending", "params": {"weights": {"trending": 0.8}}}
    (tmp_path / "change.json").write_text(json.dumps(change))

    assert config_resolve("active") == (f"home v{version}", params)
    assert config_resolve(str(version))[1]["weights"]["interest"] == 0.9
    label, from_file = config_resolve(str(tmp_path / "change.json"))
    assert label == "more trending" and from_file["weights"]["trending"] == 0.8
    assert from_file["weights"]["interest"] == default_params()["weights"]["interest"]  # the rest: the defaults
    assert config_resolve("default") == ("v1 (defaults)", default_params())


@pytest.mark.django_db
def test_simulate_refuses_an_unknown_config():
    with pytest.raises(CommandError, match="no FeedConfig version 99"):
        call_command("simulate", "--config-a", "99", "--users", "1", "--days", "1", "--markets", "10")
