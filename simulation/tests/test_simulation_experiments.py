"""The experiment machinery on simulated users: a run through a real experiment, the A/A calibration
and the bootstrap power of A/B and interleaving, and the command."""
import json

import numpy as np
import pytest
from django.core.management import call_command

from personalization.models import Experiment
from personalization.ranking.experiments import arm_assign
from simulation.catalog import boosts_plan, catalog_write, world_build
from simulation.compare import config_resolve
from simulation.experiments import aa_calibration, ab_power, experiment_record, interleaving_power, users_needed
from simulation.runner import _dt, arm_run
from simulation.strategies import ExperimentFeed
from simulation.tests.test_simulation_run import SMALL
from tracking.models import ServedItem


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["ab", "interleave"])
def test_a_simulated_run_goes_through_the_experiment_and_leaves_per_user_records(mode):
    w = world_build(**{**SMALL, "users": 30})
    catalog_write(markets=w.markets, start=w.start, boosts=boosts_plan(w.markets, seed=w.seed, start=w.start, days=1))
    v1, tuned = config_resolve("default")[1], config_resolve("tuned")[1]
    strategy = ExperimentFeed("exp", {"a": v1, "b": tuned, "mode": mode, "salt": "t"})
    arm_run(world=w, strategy=strategy)
    experiment = Experiment.objects.get(pk=strategy.experiment_id)
    assert experiment.status == "running" and experiment.mode == mode
    assert set(ServedItem.objects.values_list("arm", flat=True)) == {"a", "b"}
    record = experiment_record(strategy.experiment_id, end=_dt(w.end))
    assert record["users"] and [a["name"] for a in record["metrics"]["arms"]] == ["a", "b"]
    if mode == "ab":
        for user, arm, impressions, clicks in record["users"]:
            assert arm == ("a", "b")[arm_assign("t", user, [0.5, 0.5])] and impressions >= clicks >= 0
    else:
        assert all(a + b > 0 for _, a, b in record["users"]) and "preference" in record["metrics"]


def synthetic_users(n, ctr_a, ctr_b, rng, impressions=40):
    users = []
    for k in range(n):
        arm = "a" if k % 2 else "b"
        users.append([f"u:{k}", arm, impressions, int(rng.binomial(impressions, ctr_a if arm == "a" else ctr_b))])
    return users


def test_an_aa_split_of_users_with_one_feed_rarely_calls_a_difference():
    rng = np.random.default_rng(3)
    users = synthetic_users(400, 0.07, 0.07, rng)
    result = aa_calibration(users)
    assert result["salts"] == 20 and result["significant"] <= 1 and result["srm_alarms"] == 0
    # The always-valid p is conservative at any one look: at most its level of false calls, and p piled near 1.
    assert result["false_positive_rate"] <= 0.05 and np.median(result["p_values"]) > 0.5


def test_power_grows_with_users_and_interleaving_needs_fewer_for_a_clear_preference():
    rng = np.random.default_rng(4)
    ab = ab_power(synthetic_users(400, 0.06, 0.075, rng), [50, 400, 3200], np.random.default_rng(5))
    assert ab[50] < 0.5 < 0.8 <= ab[400] <= ab[3200]
    assert users_needed(ab) == 400 and users_needed({10: 0.1}) is None
    # Interleaving: each user decides 5 feeds, b wins 65% of them.
    users = [[f"u:{k}", *np.bincount(rng.random(5) < 0.65, minlength=2).tolist()] for k in range(200)]
    il = interleaving_power(users, [5, 20, 80], np.random.default_rng(6))
    assert il[5] < il[80] and il[80] > 0.8


@pytest.mark.django_db
def test_the_command_reports_the_aa_the_ab_the_interleaving_and_the_users_each_needs(tmp_path, capsys):
    call_command("simulate_experiments", "--users", "20", "--days", "1", "--markets", "100", "--seed", "5",
                 "--out", str(tmp_path))
    output = capsys.readouterr().out
    report = json.loads((tmp_path / "experiments.json").read_text())
    assert report["aa"]["salts"] == 20 and set(report) >= {"ab", "interleaving", "ratio", "sizes"}
    assert report["ab"]["metrics"]["arms"][0]["name"] == "a"
    for line in ("A/A: ", "A/B (", "interleaving (", "users needed for 80% power"):
        assert line in output
