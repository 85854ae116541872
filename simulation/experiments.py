"""The experiment machinery on simulated users (`manage.py simulate_experiments`).

Three system arms on the same world, each with a real experiment running on the home surface:
an A/A (two versions of the same config), an A/B of v1 against a better config, and team-draft
interleaving of the same two. From each arm's served log: the metrics the beat task computes
(personalization.experiments.experiment_metrics), and per user what power analysis needs. Then:
how often the A/A calls a difference over 20 salts, and how many users A/B and interleaving each
need to detect the difference (bootstrap power). docs/experiments.md, "On the simulator".
"""
from collections import defaultdict

import numpy as np

from personalization.experiments import CLICKS, ENGAGED, REJECTED, experiment_metrics
from personalization.models import Experiment
from personalization.ranking.experiments import (
    arm_assign,
    ctr_always_valid,
    preference_always_valid,
    ratio_estimate,
    sample_ratio_mismatch,
)
from simulation.strategies import EXPERIMENT
from tracking.selectors import served_outcomes

AA_SALTS = 20
AA_RATE_SALTS = 400  # for the false-positive rate itself: 20 splits only say it is not far off
ALPHA = 0.05
POWER = 0.8
RESAMPLES = 200


def experiment_record(experiment_id, *, end):
    """What the run leaves for the analysis: the experiment's metrics at `end` and, per user, (arm,
    rendered items, clicks) for A/B or (feeds won by a, feeds won by b) for interleaving."""
    experiment = Experiment.objects.get(pk=experiment_id)
    rows = served_outcomes(start=experiment.starts_at, end=end, experiment_id=experiment_id,
                           event_types=sorted(CLICKS | ENGAGED | REJECTED))
    if experiment.mode == Experiment.Mode.INTERLEAVE:
        feeds = defaultdict(lambda: [0, 0])
        owner = {}
        for r in rows:
            feeds[r.feed_request_id][0 if r.arm == "a" else 1] += bool(r.events & CLICKS)
            owner[r.feed_request_id] = r.user_key
        users = defaultdict(lambda: [0, 0])
        for feed, (a, b) in feeds.items():
            if a != b:
                users[owner[feed]][0 if a > b else 1] += 1
        per_user = [[user, *wins] for user, wins in sorted(users.items())]
    else:
        users = {}
        for r in rows:
            arm, impressions, clicks = users.get(r.user_key, (r.arm, 0, 0))
            users[r.user_key] = (arm, impressions + 1, clicks + bool(r.events & CLICKS))
        per_user = [[user, *values] for user, values in sorted(users.items())]
    return {"mode": experiment.mode, "metrics": experiment_metrics(experiment=experiment, now=end), "users": per_user}


def plan(v1, better):
    """(name, kind, params) of the three arms."""
    return [
        ("A/A", EXPERIMENT, {"a": v1, "b": v1, "mode": "ab", "salt": "aa"}),
        ("A/B", EXPERIMENT, {"a": v1, "b": better, "mode": "ab", "salt": "ab"}),
        ("interleaving", EXPERIMENT, {"a": v1, "b": better, "mode": "interleave", "salt": "il"}),
    ]


def _ab_test(rows):
    """(CTR difference b - a, always-valid p) of per-user rows (arm, impressions, clicks): the verdict's test."""
    by_arm = {"a": [], "b": []}
    for arm, impressions, clicks in rows:
        by_arm[arm].append((clicks, impressions))
    estimates = {arm: ratio_estimate([c for c, _ in v], [i for _, i in v]) for arm, v in by_arm.items()}
    diff, _, _, p = ctr_always_valid(estimates["b"], estimates["a"])
    return diff, p


def aa_calibration(users, salts=AA_SALTS):
    """The A/A's users re-split by `salts` other salts (both arms serve the same feeds, so any split is a
    valid A/A): how many splits call a CTR difference at p < ALPHA, and how many raise the ratio alarm."""
    significant, alarms, pvalues = 0, 0, []
    for k in range(salts):
        rows = [(("a", "b")[arm_assign(f"aa-{k}", user, [0.5, 0.5])], impressions, clicks)
                for user, _, impressions, clicks in users]
        _, p = _ab_test(rows)
        counts = [sum(1 for r in rows if r[0] == arm) for arm in ("a", "b")]
        alarms += sample_ratio_mismatch(counts, [0.5, 0.5])[2]
        significant += p < ALPHA
        pvalues.append(p)
    rate = float(np.mean([_ab_test([(("a", "b")[arm_assign(f"aa-rate-{k}", user, [0.5, 0.5])], i, c)
                                     for user, _, i, c in users])[1] < ALPHA for k in range(AA_RATE_SALTS)]))
    return {"salts": salts, "significant": int(significant), "srm_alarms": int(alarms),
            "p_values": [round(p, 4) for p in pvalues], "false_positive_rate": rate, "rate_salts": AA_RATE_SALTS}


def _power(draw, test, sizes, rng, resamples=RESAMPLES):
    """For each size n: the share of `resamples` bootstrap samples of n users that `test` calls significant."""
    return {n: float(np.mean([test(draw(n, rng)) for _ in range(resamples)])) for n in sizes}


def ab_power(users, sizes, rng):
    """Bootstrap power of the A/B at n users in all (n/2 drawn from each arm, with replacement)."""
    arms = {arm: [(arm, i, c) for _, a, i, c in users if a == arm] for arm in ("a", "b")}

    def draw(n, rng):
        return [row for arm in ("a", "b") for row in (arms[arm][k] for k in rng.integers(len(arms[arm]), size=n // 2))]

    def test(rows):
        diff, p = _ab_test(rows)
        return p < ALPHA and diff > 0

    return _power(draw, test, sizes, rng)


def interleaving_power(users, sizes, rng):
    """Bootstrap power of interleaving at n users: their decided feeds, b preferred at p < ALPHA."""
    wins = np.array([[a, b] for _, a, b in users], dtype=int).reshape(-1, 2)

    def draw(n, rng):
        return wins[rng.integers(len(wins), size=n)].sum(axis=0)

    def test(total):
        share, _, _, p = preference_always_valid(int(total[0]), int(total[1]))
        return bool(np.isfinite(p) and p < ALPHA and share < 0.5)

    return _power(draw, test, sizes, rng)


def users_needed(power):
    """The smallest size with power >= POWER, or None."""
    return next((n for n, value in sorted(power.items()) if value >= POWER), None)


def analyse(results, *, seed):
    """The report from the three arms' records."""
    by_name = {r["name"]: r["experiment"] for r in results}
    aa, ab, il = by_name["A/A"], by_name["A/B"], by_name["interleaving"]
    rng = np.random.default_rng(seed)
    n_ab, n_il = len(ab["users"]), len(il["users"])
    sizes = sorted({int(n) for n in np.unique(np.geomspace(20, 64 * max(n_ab, 1), 30).astype(int)) if n >= 20})
    ab_curve = ab_power(ab["users"], sizes, rng)
    il_curve = interleaving_power(il["users"], sizes, rng)
    need_ab, need_il = users_needed(ab_curve), users_needed(il_curve)
    return {
        "aa": {**aa_calibration(aa["users"]), "served_verdict": aa["metrics"]["verdict"],
               "served_srm": aa["metrics"].get("srm")},
        "ab": {"users": n_ab, "metrics": ab["metrics"], "power": ab_curve, "users_needed": need_ab},
        "interleaving": {"users": n_il, "metrics": il["metrics"], "power": il_curve, "users_needed": need_il},
        "ratio": need_ab / need_il if need_ab and need_il else None,
        "sizes": sizes,
    }
