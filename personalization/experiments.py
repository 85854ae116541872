"""Writes of experiments: start, stop and promote, each logged with who and when.

What an experiment is, how users are assigned and how experiments on one surface coexist:
docs/experiments.md. The feed reads the running experiment through
personalization.selectors.experiment_running.
"""
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from feedproject.cache import cache_set
from personalization.feed_configs import feed_config_activate, feed_config_save_version
from personalization.models import Experiment, ExperimentChange, FeedConfig, RankingModel
from personalization.ranking.config import LEARNED
from personalization.training import ranking_model_activate


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
