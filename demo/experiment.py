"""The demo's experiment: two home configs, A/B on the demo's users, so the experiment page and its
metrics have data as soon as `make run` is up (docs/demo-data.md, "The experiment")."""
from datetime import timedelta

from personalization.dashboard import dashboard_refresh
from personalization.experiments import experiment_metrics_refresh, experiment_start
from personalization.feed_configs import feed_config_save_version
from personalization.models import Experiment, ExperimentArm, FeedConfig
from personalization.ranking.config import LEARNED, default_params

NAME = "Demo: more personal slots"
LENGTH = timedelta(days=14)


def _personal_heavier(params):
    """The treatment: personal 0.60 of the slots, taken from exploration and global trending."""
    quotas = dict(params["quotas"])
    quotas.update(personal=0.60, trending_global=0.12, exploration=0.10, trending_local=0.08, editorial=0.10)
    return {**params, "quotas": quotas}


def _untouched(surface):
    """Whether the surface has only the defaults the migrations create (version 1, default parameters)."""
    configs = list(FeedConfig.objects.filter(surface=surface).values_list("version", "params"))
    return not configs or configs == [(1, default_params())]


def demo_experiment_ensure(*, start):
    """Unless an editor has set up the home surface: a config of the defaults and one with more personal
    slots (both ranked by the learned model once one is active), the first active, and a running A/B of
    the two from `start`. Returns the experiment, or None when the home surface is someone else's."""
    existing = Experiment.objects.filter(name=NAME).first()
    if existing is not None:
        return existing
    if not _untouched("home"):
        return None
    params = default_params()
    params["ranker"]["model"] = LEARNED
    control = feed_config_save_version(
        surface="home", params=params, created_by=None, activate=True,
        note="demo: the defaults, ranked by the learned model when one is active",
    )
    treatment = feed_config_save_version(
        surface="home", params=_personal_heavier(params), created_by=None, activate=False,
        note="demo: personal 0.60 of the slots (exploration 0.10, global trending 0.12)",
    )
    experiment = Experiment.objects.create(
        name=NAME, surface="home", starts_at=start, ends_at=start + LENGTH, salt="demo",
        note="Started by seed_demo: the demo's users are split between the two home configs.",
    )
    ExperimentArm.objects.create(experiment=experiment, name="control", feed_config=control, share=0.5)
    ExperimentArm.objects.create(experiment=experiment, name="personal-60", feed_config=treatment, share=0.5)
    return experiment_start(experiment=experiment, user=None, now=start)


def demo_experiment_measure(*, now):
    """The experiment's metrics and the live dashboard, as their beat tasks would compute them, at once."""
    experiment_metrics_refresh(now=now)
    return dashboard_refresh(now=now)
