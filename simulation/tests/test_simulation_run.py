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
from personalization.models import FeedConfig, RankingModel, UserMarketState
from personalization.ranking.config import default_params
from personalization.selectors import caches_reset
from simulation.catalog import boosts_plan, catalog_write, world_build
from simulation.compare import config_resolve, learned_params, oracle_shares_add, results_table
from simulation.metrics import summarize
from simulation.runner import MarketState, arm_run
from simulation.strategies import ConfigFeed, OracleFeed, RandomFeed
from simulation.world import UserMemory
from tracking.models import Impression, Interaction, RejectedEvent, ServedItem

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


@pytest.mark.django_db
def test_the_learned_arm_trains_every_night_and_ranks_with_its_model_the_next_day(settings):
    settings.RANKING_MODEL_MIN_ROWS, settings.RANKING_MODEL_MIN_POSITIVES = 50, 2
    w = world_build(**{**SMALL, "days": 2, "users": 60})
    catalog_write(markets=w.markets, start=w.start, boosts=boosts_plan(w.markets, seed=w.seed, start=w.start, days=2))
    strategy = ConfigFeed("learned", learned_params())
    assert strategy.learns and not ConfigFeed("v1", None).learns
    arm_run(world=w, strategy=strategy)

    # Trained at the start (nothing to learn from), after day 1, and at the end of day 2.
    models = list(RankingModel.objects.order_by("version"))
    assert [m.trigger for m in models] == ["simulation"] * 3
    assert models[0].status == RankingModel.Status.TOO_LITTLE_DATA
    assert models[1].status == RankingModel.Status.READY, models[1].reason
    day_two = datetime.fromtimestamp(w.start, UTC) + timedelta(days=1, hours=1)
    served = ServedItem.objects.filter(served_at__gte=day_two)
    # The night's version ranks day 2 when it passed the gate (held-out click AUC >= the formula's).
    ranked_by = {models[1].version} if models[1].activated_at else {None}
    assert served.exists() and set(served.values_list("model_version", flat=True)) == ranked_by, models[1].reason
    assert not ServedItem.objects.filter(served_at__lt=day_two - timedelta(hours=1), model_version__isnull=False)


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


@pytest.mark.django_db
def test_the_oracle_beats_random_and_the_default_feed(small_world):
    w = small_world
    catalog_write(markets=w.markets, start=w.start, boosts=boosts_plan(w.markets, seed=w.seed, start=w.start, days=1))
    v1 = summarize(arm_run(world=w, strategy=ConfigFeed("v1", None))[0])["overall"]
    random_arm = summarize(arm_run(world=w, strategy=RandomFeed("random"))[0])["overall"]
    log, runner = arm_run(world=w, strategy=OracleFeed())
    oracle = summarize(log)["overall"]

    assert runner.counts["ingest_calls"] == 0  # it runs on the world alone
    assert oracle["ctr"] > 1.5 * max(v1["ctr"], random_arm["ctr"]) > 0
    assert oracle["engaged_per_user_day"] > 1.5 * max(v1["engaged_per_user_day"], random_arm["engaged_per_user_day"])


def test_the_oracle_ranks_open_markets_by_the_worlds_click_chance_and_leaves_hidden_ones_out(small_world):
    w = small_world
    plan = next(p for p in w.sessions if p.intent)
    state, memory = MarketState(w), UserMemory()
    ask = lambda: [m for m, _ in OracleFeed().feed(  # noqa: E731
        world=w, state=state, user_index=plan.user, now=datetime.fromtimestamp(plan.start, UTC),
        feed_request_id="x", limit=20, memory=memory, plan=plan)]
    first, second = ask()[:2]
    memory.hidden.add(first)
    state.open[second] = False
    markets = ask()
    z = w.click_logits(user_index=plan.user, plan=plan, at=plan.start, memory=memory)
    assert len(markets) == 20 and first not in markets and second not in markets
    assert list(z[markets]) == sorted(z[markets], reverse=True)
    rest = [m for m in range(w.n) if state.open[m] and m not in markets and m != first]
    assert z[markets[-1]] >= max(z[rest])


def _arm(name, kind, ctr, engaged):
    return {"name": name, "kind": kind, "summary": {"overall": {
        "ctr": ctr, "engaged_per_user_day": engaged, "repeated_feed_share": 0.0, "coverage": 0.5,
        "diversity_top9": 5.0, "intent_next_feed": 0.5, "intent_feeds_to_show": 1.0}}}


def test_every_arm_is_reported_as_a_share_of_the_oracle():
    arms = oracle_shares_add([_arm("v1", "config", 0.05, 1.0), _arm("random", "random", 0.04, 0.5),
                              _arm("oracle", "oracle", 0.20, 4.0)])
    assert arms[0]["share_of_oracle"] == {"ctr": pytest.approx(0.25), "engaged_per_user_day": pytest.approx(0.25)}
    assert arms[1]["share_of_oracle"] == {"ctr": pytest.approx(0.2), "engaged_per_user_day": pytest.approx(0.125)}
    assert arms[2]["share_of_oracle"] == {"ctr": 1.0, "engaged_per_user_day": 1.0}
    table = results_table({"arms": arms}).splitlines()
    headers = table[0].split("  ")
    assert [h.strip() for h in headers if h.strip()][:5] == ["arm", "CTR", "CTR / oracle", "engaged/user-day",
                                                             "engaged / oracle"]
    assert table[3].split()[:5] == ["random", "4.00%", "20.0%", "0.500", "12.5%"]

    no_oracle = oracle_shares_add([_arm("v1", "config", 0.05, 1.0)])
    assert "share_of_oracle" not in no_oracle[0] and "oracle" not in results_table({"arms": no_oracle})
    zero = oracle_shares_add([_arm("v1", "config", 0.05, 0.0), _arm("oracle", "oracle", 0.1, 0.0)])
    assert zero[0]["share_of_oracle"] == {"ctr": 0.5, "engaged_per_user_day": None}
    assert results_table({"arms": zero}).splitlines()[2].split()[4] == "-"


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
        f"home v{version}", "v2 (tuned)", "learned (v1 + model)", "original formula", "random", "most popular",
        "oracle"]
    assert first["arms"][-1]["share_of_oracle"]["ctr"] == 1.0
    assert first["arms"][3]["share_of_oracle"]["ctr"] == pytest.approx(
        first["arms"][3]["summary"]["overall"]["ctr"] / first["arms"][-1]["summary"]["overall"]["ctr"])
    assert first["world"]["user_model"] == "default"
    assert [arm["summary"] for arm in first["arms"]] == [arm["summary"] for arm in second["arms"]]
    assert first["arms"][0]["params"]["quotas"]["personal"] == 0.6
    assert (tmp_path / "a" / "metrics_by_day.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for arm in first["arms"]:
        assert arm["name"] in output
        assert len(arm["summary"]["per_day"]) == 1
    assert "CTR personal" in output and "CTR / oracle" in output


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
    with pytest.raises(CommandError, match="invalid choice: 'nope'"):
        call_command("simulate", "--user-model", "nope", "--users", "1", "--days", "1", "--markets", "10")
