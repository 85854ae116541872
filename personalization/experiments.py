"""Writes of experiments: start, stop and promote, each logged with who and when.

What an experiment is, how users are assigned and how experiments on one surface coexist:
docs/experiments.md. The feed reads the running experiment through
personalization.selectors.experiment_running.
"""
from collections import defaultdict
from datetime import timedelta

import numpy as np
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from feedproject.cache import cache_set
from markets.models import Market
from personalization.feed_configs import feed_config_activate, feed_config_save_version
from personalization.models import Experiment, ExperimentChange, FeedConfig, RankingModel
from personalization.ranking.config import LEARNED
from personalization.ranking.experiments import (
    Z95,
    ctr_always_valid,
    difference,
    mean_estimate,
    preference,
    preference_always_valid,
    ratio_estimate,
    sample_ratio_mismatch,
)
from personalization.ranking.learned import OUTCOMES
from personalization.training import ranking_model_activate
from tracking.selectors import served_outcomes


def experiment_version_cache_key(surface):
    return f"experiment:version:{surface}"


def _publish(surface, change):
    # Feed processes compare this stamp with the experiment they hold (personalization.selectors): the
    # latest change's id, so two changes at the same instant still differ.
    cache_set(experiment_version_cache_key(surface), change.pk, None)


def experiment_problems(experiment, arms):
    """What keeps `experiment` with these arms (ExperimentArm instances, saved or not) from running: messages."""
    problems = []
    if len(arms) < 2:
        problems.append("An experiment needs at least two arms.")
    if experiment.mode == Experiment.Mode.INTERLEAVE and len(arms) != 2:
        problems.append("Interleaving compares exactly two arms.")
    names = [arm.name for arm in arms]
    if len(set(names)) != len(names):
        problems.append("Arm names must differ.")
    for arm in arms:
        if arm.feed_config_id and arm.feed_config.surface != experiment.surface:
            problems.append(f"Arm {arm.name}: {arm.feed_config} is not a config of the {experiment.surface} surface.")
        if arm.ranking_model_id and arm.ranking_model.status != RankingModel.Status.READY:
            problems.append(f"Arm {arm.name}: {arm.ranking_model} is not ready to serve.")
    signatures = [(arm.feed_config_id, arm.ranking_model_id) for arm in arms]
    if len(set(signatures)) != len(signatures):
        problems.append("Two arms serve the same config and model: there would be nothing to compare.")
    return problems


def _log(experiment, *, action, user, now, detail=""):
    """Record the change and, once committed, tell the feed processes."""
    change = ExperimentChange.objects.create(
        experiment=experiment, at=now, user=user, action=action, detail=detail[:300]
    )
    transaction.on_commit(lambda: _publish(experiment.surface, change))


@transaction.atomic
def experiment_start(*, experiment, user, now):
    """draft -> running. Refused (ValidationError) with problems in its arms, or while another
    experiment runs on the surface."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if experiment.status != Experiment.Status.DRAFT:
        raise ValidationError(f"Only a draft can start; this experiment is {experiment.status}.")
    problems = experiment_problems(experiment, list(experiment.arms.select_related("feed_config", "ranking_model")))
    if problems:
        raise ValidationError(problems)
    if experiment.ends_at <= now:
        raise ValidationError("Its end is in the past: set a later end first.")
    experiment.status = Experiment.Status.RUNNING
    try:
        with transaction.atomic():
            experiment.save(update_fields=["status"])
    except IntegrityError:
        running = Experiment.objects.filter(surface=experiment.surface, status=Experiment.Status.RUNNING).first()
        raise ValidationError(
            f"{running} already runs on the {experiment.surface} surface: stop it first (one at a time per surface)."
        ) from None
    _log(experiment, action="started", user=user, now=now)
    return experiment


@transaction.atomic
def experiment_stop(*, experiment, user, now, detail=""):
    """running -> stopped: everyone is served the surface's active config again."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if experiment.status != Experiment.Status.RUNNING:
        raise ValidationError(f"Only a running experiment can stop; this one is {experiment.status}.")
    experiment.status = Experiment.Status.STOPPED
    experiment.save(update_fields=["status"])
    _log(experiment, action="stopped", user=user, now=now, detail=detail)
    return experiment


@transaction.atomic
def experiment_promote(*, experiment, arm, user, now):
    """The arm's config and model serve everyone: its config version becomes the surface's active one
    (a new version asking for the learned model when the arm adds a model to a formula config), its
    model the active ranking model. The experiment ends as promoted."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if experiment.status not in (Experiment.Status.RUNNING, Experiment.Status.STOPPED):
        raise ValidationError(f"Only a running or stopped experiment can be promoted; this one is {experiment.status}.")
    arm = experiment.arms.select_related("feed_config", "ranking_model").get(pk=arm.pk)
    config = arm.feed_config or FeedConfig.objects.filter(surface=experiment.surface, is_active=True).first()
    notes = []
    if arm.ranking_model is not None:
        ranking_model_activate(model=arm.ranking_model, now=now)
        notes.append(f"ranking model v{arm.ranking_model.version} activated")
        if config is None or (config.params.get("ranker", {}).get("model") != LEARNED):
            params = {**(config.params if config else {})}
            params["ranker"] = {**params.get("ranker", {}), "model": LEARNED}
            config = feed_config_save_version(
                surface=experiment.surface, params=params, note=f"Promoted from experiment {experiment.name}"[:300],
                created_by=user, activate=True,
            )
            notes.append(f"{config.surface} v{config.version} saved to rank with it")
    if config is not None and not config.is_active:
        feed_config_activate(config=config)
        notes.append(f"{config.surface} v{config.version} activated")
    experiment.status = Experiment.Status.PROMOTED
    experiment.save(update_fields=["status"])
    detail = f"arm {arm.name}: " + "; ".join(notes or ["its config and model already served everyone"])
    _log(experiment, action="promoted", user=user, now=now, detail=detail)
    return experiment


# ----- metrics ---------------------------------------------------------------------------

REPEAT_LIMIT = 3  # a feed repeats itself when it shows a market its user was shown this often in the 24 h before
ENDED_METRICS_DAYS = 7  # a stopped or promoted experiment's metrics keep refreshing this long (late events)
CLICKS, ENGAGED, REJECTED = (frozenset(OUTCOMES[k]) for k in ("click", "engage", "reject"))


def experiment_metrics_refresh(*, now):
    """Recompute the metrics of every running experiment and of those ended in the last week; returns how many."""
    recent = now - timedelta(days=ENDED_METRICS_DAYS)
    experiments = Experiment.objects.filter(
        Q(status=Experiment.Status.RUNNING)
        | Q(status__in=[Experiment.Status.STOPPED, Experiment.Status.PROMOTED], changes__at__gte=recent)
    ).distinct()
    done = 0
    for experiment in experiments:
        experiment.metrics, experiment.metrics_at = experiment_metrics(experiment=experiment, now=now), now
        experiment.save(update_fields=["metrics", "metrics_at"])
        done += 1
    return {"experiments": done}


def experiment_metrics(*, experiment, now):
    """The experiment's metrics from its served log up to `now` (docs/experiments.md, "Metrics")."""
    arms = list(experiment.arms.order_by("pk"))
    names = [arm.name for arm in arms]
    rows = list(served_outcomes(
        start=experiment.starts_at, end=min(now, experiment.ends_at), experiment_id=experiment.pk,
        event_types=sorted(CLICKS | ENGAGED | REJECTED),
    ))
    open_markets = Market.objects.filter(status=Market.Status.OPEN).count()
    repeated = repeated_feeds(rows)
    result = {"mode": experiment.mode, "rows": len(rows), "arms": []}
    per_user = {name: defaultdict(lambda: np.zeros(5)) for name in names}  # impressions, clicks, engaged, bets, hides
    feeds, markets = defaultdict(set), defaultdict(set)
    for r in rows:
        if r.arm not in per_user:
            continue
        counts = per_user[r.arm][r.user_key]
        counts += (1, bool(r.events & CLICKS), bool(r.events & ENGAGED), "participate" in r.events,
                   bool(r.events & REJECTED))
        feeds[r.arm].add(r.feed_request_id)
        markets[r.arm].add(r.market_pk)
    estimates = []
    for k, arm in enumerate(arms):
        users = np.array(list(per_user[arm.name].values())).reshape(-1, 5)
        ctr = ratio_estimate(users[:, 1], users[:, 0])
        estimates.append(ctr)
        arm_feeds = feeds[arm.name]
        summary = {
            "name": arm.name, "share": arm.share, "users": len(users), "feeds": len(arm_feeds),
            "impressions": int(users[:, 0].sum()), "clicks": int(users[:, 1].sum()),
            "ctr": _interval(ctr),
            **{f"{name}_per_user": _interval(mean_estimate(users[:, k]))
               for k, name in ((2, "engaged"), (3, "bets"), (4, "hides"))},
            "repeat_feed_share": len(arm_feeds & repeated) / len(arm_feeds) if arm_feeds else 0.0,
            "coverage": len(markets[arm.name]) / open_markets if open_markets else 0.0,
        }
        if k:
            diff, low, high, p = difference(ctr, estimates[0])
            _, av_low, av_high, av_p = ctr_always_valid(ctr, estimates[0])
            summary["ctr_vs_first"] = {"diff": diff, "low": av_low, "high": av_high, "p": av_p,
                                       "fixed_low": low, "fixed_high": high, "fixed_p": p}
        result["arms"].append(summary)
    if experiment.mode == Experiment.Mode.INTERLEAVE:
        result["preference"] = _preference(rows, names)
    else:
        statistic, p, alarm = sample_ratio_mismatch([a["users"] for a in result["arms"]], [a.share for a in arms])
        result["srm"] = {"chi2": statistic, "p": p, "alarm": alarm}
    result["verdict"] = _verdict(result)
    return _rounded(result)


def _interval(estimate):
    value, se = estimate
    finite = bool(np.isfinite(se))
    return {"value": value, "low": value - Z95 * se if finite else None, "high": value + Z95 * se if finite else None}


def repeated_feeds(rows):
    """Feeds that showed a user a market rendered to them REPEAT_LIMIT or more times in the 24 h before."""
    shown = defaultdict(list)
    for r in rows:
        shown[(r.user_key, r.market_pk)].append((r.served_at, r.feed_request_id))
    flagged = set()
    for times in shown.values():
        times.sort()
        oldest = 0
        for k, (at, feed) in enumerate(times):
            while at - times[oldest][0] >= 86400:
                oldest += 1
            if k - oldest >= REPEAT_LIMIT:
                flagged.add(feed)
    return flagged


def _preference(rows, names):
    """Per feed, the arm whose credited items got more clicks wins it; ties decide nothing."""
    clicks = defaultdict(lambda: [0, 0])
    for r in rows:
        if r.arm in names[:2]:
            clicks[r.feed_request_id][names.index(r.arm)] += bool(r.events & CLICKS)
    wins = [sum(1 for a, b in clicks.values() if a > b), sum(1 for a, b in clicks.values() if b > a)]
    share, low, high, p = preference(*wins)
    _, av_low, av_high, av_p = preference_always_valid(*wins)
    return {"feeds": len(clicks), "decided": sum(wins), "wins": dict(zip(names[:2], wins, strict=True)),
            "share_first": share, "low": av_low, "high": av_high, "p": av_p,
            "fixed_low": low, "fixed_high": high, "fixed_p": p}


def _verdict(result):
    arms = result["arms"]
    if result.get("srm", {}).get("alarm"):
        return (f"Sample ratio mismatch (p = {result['srm']['p']:.1e}): the users per arm are off the shares, "
                "so the metrics cannot be trusted. Look for an assignment or logging fault first.")
    if result["mode"] == Experiment.Mode.INTERLEAVE:
        pref = result["preference"]
        if not pref["feeds"] or not np.isfinite(pref["p"]):
            return "No decided feed yet."
        first, second = arms[0]["name"], arms[1]["name"]
        if pref["low"] > 0.5:
            return f"{first} is preferred ({pref['share_first']:.1%} of decided feeds, p = {pref['p']:.2g})."
        if pref["high"] < 0.5:
            return f"{second} is preferred ({1 - pref['share_first']:.1%} of decided feeds, p = {pref['p']:.2g})."
        return f"No significant preference yet ({pref['feeds']} feeds, p = {pref['p']:.2g})."
    words = []
    for arm in arms[1:]:
        d = arm.get("ctr_vs_first")
        if d is None or d["low"] is None or not np.isfinite(d["low"]):
            words.append(f"{arm['name']}: not enough users yet")
        elif d["low"] > 0:
            words.append(f"{arm['name']} beats {arms[0]['name']} on CTR by {d['diff']:+.2%} (p = {d['p']:.2g})")
        elif d["high"] < 0:
            words.append(f"{arm['name']} loses to {arms[0]['name']} on CTR by {d['diff']:+.2%} (p = {d['p']:.2g})")
        else:
            words.append(f"{arm['name']}: no significant CTR difference yet (p = {d['p']:.2g})")
    return "; ".join(words) + "."


def _rounded(value):
    """JSON-ready: floats to 6 significant digits, NaN as null."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(f"{value:.6g}") if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
