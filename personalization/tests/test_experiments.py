"""Experiments: stable arm assignment, the arm's config and model in the feed and the served log,
start / stop / promote with their history, and the admin pages that drive them."""
from collections import Counter
from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from markets.models import Market
from markets.tests.factories import MarketFactory
from personalization.experiments import (
    experiment_metrics,
    experiment_metrics_refresh,
    experiment_promote,
    experiment_start,
    experiment_stop,
)
from personalization.feed_configs import feed_config_save_version
from personalization.models import Experiment, ExperimentArm, FeedConfig, RankingModel
from personalization.ranking.config import LEARNED, default_params
from personalization.ranking.experiments import arm_assign, team_draft
from personalization.selectors import caches_reset
from personalization.services import feed_build, feed_serve
from tracking.models import ServedItem
from tracking.tests.pipeline_data import event, impression, ingest, ingest_impressions


def test_a_users_arm_is_stable_follows_the_shares_and_is_independent_across_salts():
    users = [f"u:{k}" for k in range(20_000)]
    arms = [arm_assign("salt-a", u, [0.3, 0.7]) for u in users]
    assert arms == [arm_assign("salt-a", u, [0.3, 0.7]) for u in users]
    share = Counter(arms)[0] / len(users)
    assert abs(share - 0.3) < 0.015, share
    other = np.array([arm_assign("salt-b", u, [0.5, 0.5]) for u in users])
    # Another experiment's split is independent of this one: its arm-0 share is the same in both halves here.
    first = np.array(arms) == 0
    assert abs(other[first].mean() - other[~first].mean()) < 0.03
    assert arm_assign("s", "u:1", [1.0]) == 0 and {arm_assign("s", u, [2, 2]) for u in users[:200]} == {0, 1}


@pytest.fixture
def configs(db):
    markets = [MarketFactory(market_id=f"m-{k}", category=("Sports", "Politics")[k % 2]) for k in range(30)]
    base = default_params()
    control = feed_config_save_version(surface="home", params=base, note="control", created_by=None, activate=True)
    wider = dict(base, diversity={**base["diversity"], "top_n": 3})
    treatment = feed_config_save_version(surface="home", params=wider, note="treatment", created_by=None,
                                         activate=False)
    caches_reset()
    return markets, control, treatment


def experiment(control, treatment, *, now, status=Experiment.Status.DRAFT, shares=(0.5, 0.5), **fields):
    e = Experiment.objects.create(name="top-3", surface="home", starts_at=now - timedelta(hours=1),
                                  ends_at=now + timedelta(days=7), status=status, **fields)
    ExperimentArm.objects.create(experiment=e, name="control", feed_config=control, share=shares[0])
    ExperimentArm.objects.create(experiment=e, name="treatment", feed_config=treatment, share=shares[1])
    return e


@pytest.mark.django_db
def test_while_it_runs_each_user_gets_their_arms_config_and_the_served_log_records_the_arm(
    configs, django_capture_on_commit_callbacks
):
    _, control, treatment = configs
    now = timezone.now()
    e = experiment(control, treatment, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=e, user=None, now=now)
    users = [f"u:{k}" for k in range(40)]
    results = {u: feed_serve(user_key=u, limit=10, now=now) for u in users}
    by_arm = {r.arm: r.config_version for r in results.values()}
    assert by_arm == {"control": control.version, "treatment": treatment.version}
    for u, result in results.items():
        assert result.arm == ("control", "treatment")[arm_assign(e.salt, u, [0.5, 0.5])]
        assert result.experiment_id == e.pk
    logged = set(ServedItem.objects.values_list("user_key", "experiment_id", "arm", "config_version").distinct())
    assert logged == {(u, e.pk, r.arm, r.config_version) for u, r in results.items()}
    # Stopped: everyone is back on the active config, outside any experiment.
    with django_capture_on_commit_callbacks(execute=True):
        experiment_stop(experiment=e, user=None, now=now)
    after = feed_build(user_key=users[0], limit=10, now=now)
    assert (after.experiment_id, after.arm, after.config_version) == (None, "", control.version)


@pytest.mark.django_db
def test_an_experiment_serves_only_inside_its_window(configs, django_capture_on_commit_callbacks):
    _, control, treatment = configs
    now = timezone.now()
    e = experiment(control, treatment, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=e, user=None, now=now)
    assert feed_build(user_key="u:1", limit=5, now=now).experiment_id == e.pk
    assert feed_build(user_key="u:1", limit=5, now=e.ends_at + timedelta(seconds=1)).experiment_id is None
    assert feed_build(user_key="u:1", limit=5, now=e.starts_at - timedelta(seconds=1)).experiment_id is None


@pytest.mark.django_db
def test_start_refuses_an_experiment_that_cannot_run(configs):
    _, control, treatment = configs
    now = timezone.now()
    single = Experiment.objects.create(name="one arm", surface="home", starts_at=now, ends_at=now + timedelta(days=1))
    ExperimentArm.objects.create(experiment=single, name="control", feed_config=control)
    with pytest.raises(ValidationError, match="at least two arms"):
        experiment_start(experiment=single, user=None, now=now)
    same = experiment(control, control, now=now)
    with pytest.raises(ValidationError, match="nothing to compare"):
        experiment_start(experiment=same, user=None, now=now)
    other_surface = feed_config_save_version(surface="category", params=default_params(), note="", created_by=None,
                                             activate=True)
    wrong = experiment(control, other_surface, now=now)
    with pytest.raises(ValidationError, match="not a config of the home surface"):
        experiment_start(experiment=wrong, user=None, now=now)
    ok = experiment(control, treatment, now=now)
    experiment_start(experiment=ok, user=None, now=now)
    second = experiment(control, treatment, now=now)
    with pytest.raises(ValidationError, match="already runs on the home surface"):
        experiment_start(experiment=second, user=None, now=now)
    with pytest.raises(ValidationError, match="Only a draft can start"):
        experiment_start(experiment=ok, user=None, now=now)
    assert list(Experiment.objects.filter(status="running")) == [ok]


@pytest.mark.django_db
def test_promoting_an_arm_activates_its_config_and_model_and_logs_who_did_it(configs, admin_user):
    _, control, treatment = configs
    now = timezone.now()
    e = experiment(control, treatment, now=now)
    experiment_start(experiment=e, user=admin_user, now=now)
    experiment_promote(experiment=e, arm=e.arms.get(name="treatment"), user=admin_user, now=now)
    assert FeedConfig.objects.get(surface="home", is_active=True) == treatment
    e.refresh_from_db()
    assert e.status == Experiment.Status.PROMOTED
    history = list(e.changes.values_list("action", "user__username"))
    assert history == [("started", admin_user.username), ("promoted", admin_user.username)]
    assert e.changes.get(action="promoted").detail == f"arm treatment: home v{treatment.version} activated"


@pytest.mark.django_db
def test_promoting_a_model_arm_on_a_formula_config_saves_a_version_that_ranks_with_the_model(configs):
    _, control, _ = configs
    now = timezone.now()
    model = RankingModel.objects.create(version=3, status=RankingModel.Status.READY, trained_at=now,
                                        window_start=now - timedelta(days=7), window_end=now, trigger="command")
    e = Experiment.objects.create(name="model", surface="home", starts_at=now, ends_at=now + timedelta(days=1))
    ExperimentArm.objects.create(experiment=e, name="formula", feed_config=control)
    ExperimentArm.objects.create(experiment=e, name="model-v3", feed_config=control, ranking_model=model)
    experiment_start(experiment=e, user=None, now=now)
    experiment_promote(experiment=e, arm=e.arms.get(name="model-v3"), user=None, now=now)
    active = FeedConfig.objects.get(surface="home", is_active=True)
    assert active.version > control.version and active.params["ranker"]["model"] == LEARNED
    assert active.params["diversity"] == control.params["diversity"]  # the arm's config, asking for its model
    assert RankingModel.objects.get(is_active=True) == model


@pytest.mark.django_db
def test_the_admin_creates_starts_stops_and_promotes_with_buttons(configs, admin_client):
    _, control, treatment = configs
    now = timezone.now()
    add = reverse("admin:personalization_experiment_add")
    assert admin_client.get(add).status_code == 200
    form = {
        "name": "Top 3", "surface": "home", "mode": "ab", "salt": "s1", "note": "",
        "starts_at_0": (now - timedelta(hours=1)).strftime("%Y-%m-%d"), "starts_at_1": "00:00:00",
        "ends_at_0": (now + timedelta(days=7)).strftime("%Y-%m-%d"), "ends_at_1": "00:00:00",
        "arms-TOTAL_FORMS": "2", "arms-INITIAL_FORMS": "0", "arms-MIN_NUM_FORMS": "0", "arms-MAX_NUM_FORMS": "1000",
        "arms-0-name": "control", "arms-0-feed_config": control.pk, "arms-0-share": "0.5",
        "arms-1-name": "treatment", "arms-1-feed_config": treatment.pk, "arms-1-share": "0.5",
        "changes-TOTAL_FORMS": "0", "changes-INITIAL_FORMS": "0", "changes-MIN_NUM_FORMS": "0",
        "changes-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(add, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    e = Experiment.objects.get(name="Top 3")
    page = admin_client.get(reverse("admin:personalization_experiment_change", args=(e.pk,))).content.decode()
    assert "Nothing: it can start." in page and ">Start</button>" in page
    admin_client.post(reverse("admin:personalization_experiment_start", args=(e.pk,)))
    e.refresh_from_db()
    assert e.status == "running"
    page = admin_client.get(reverse("admin:personalization_experiment_change", args=(e.pk,))).content.decode()
    assert ">Stop</button>" in page and ">Promote treatment</button>" in page and "started" in page
    admin_client.post(reverse("admin:personalization_experiment_stop", args=(e.pk,)))
    admin_client.post(reverse("admin:personalization_experiment_promote", args=(e.pk, e.arms.get(name="control").pk)))
    e.refresh_from_db()
    assert e.status == "promoted"
    assert list(e.changes.values_list("action", flat=True)) == ["started", "stopped", "promoted"]
    # A GET does nothing; a second start is refused with the reason shown.
    assert admin_client.get(reverse("admin:personalization_experiment_start", args=(e.pk,))).status_code == 302
    response = admin_client.post(reverse("admin:personalization_experiment_start", args=(e.pk,)), follow=True)
    assert "Only a draft can start" in response.content.decode()
    assert admin_client.get(reverse("admin:personalization_experiment_changelist")).status_code == 200


@pytest.mark.django_db
def test_the_feed_api_serves_the_arm(configs, django_capture_on_commit_callbacks):
    _, control, treatment = configs
    now = timezone.now()
    e = experiment(control, treatment, now=now, shares=(0.001, 1.0))
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=e, user=None, now=now)
    body = APIClient().get("/api/feed?limit=5").json()
    assert body["config_version"] == treatment.version


def test_team_draft_alternates_picks_credits_each_item_and_never_repeats_one():
    a, b = [1, 2, 3, 4, 5, 6], [4, 1, 7, 8, 9, 10]
    for seed in range(50):
        picks = team_draft([a, b], limit=6, rng=np.random.default_rng(seed))
        items = [i for i, _ in picks]
        assert len(items) == len(set(items)) == 6
        credits = [arm for _, arm in picks]
        assert credits.count(0) == credits.count(1) == 3  # each round, one pick each
        for arm, ranking in ((0, a), (1, b)):  # each arm's picks keep its own order
            own = [i for i, k in picks if k == arm]
            assert own == sorted(own, key=ranking.index)
    firsts = Counter(team_draft([a, b], limit=2, rng=np.random.default_rng(s))[0] for s in range(400))
    assert set(firsts) == {(1, 0), (4, 1)} and min(firsts.values()) > 150  # a fair coin for who picks first


def test_team_draft_keeps_one_item_per_question_in_the_first_n_and_runs_until_both_are_empty():
    groups = np.array([0, 1, 1, 2, 3, 4, 5, 6])  # items 1 and 2 ask one question
    picks = team_draft([[1, 3, 4], [2, 5, 6, 7]], limit=10, rng=np.random.default_rng(0), groups=groups, top_n=4)
    items = [i for i, _ in picks]
    assert not ({1, 2} <= set(items[:4]))
    assert sorted(items) == [1, 2, 3, 4, 5, 6, 7]  # the held one comes back after the first N


@pytest.mark.django_db
def test_an_interleaved_experiment_merges_both_arms_and_credits_each_item_in_the_served_log(
    configs, django_capture_on_commit_callbacks
):
    _, control, treatment = configs
    now = timezone.now()
    e = experiment(control, treatment, now=now, mode=Experiment.Mode.INTERLEAVE)
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=e, user=None, now=now)
    result = feed_serve(user_key="u:5", limit=12, now=now)
    assert result.experiment_id == e.pk and len(result.ranking.items) == 12
    rows = list(ServedItem.objects.filter(feed_request_id=result.feed_request_id).order_by("position")
                .values_list("arm", "config_version", "propensity"))
    versions = {"control": control.version, "treatment": treatment.version}
    assert {arm for arm, _, _ in rows} == {"control", "treatment"}
    assert all(version == versions[arm] for arm, version, _ in rows)
    assert all(propensity is None for _, _, propensity in rows)
    assert abs(sum(arm == "control" for arm, _, _ in rows) - 6) <= 1
    # The same feed id gives the same merge.
    again = feed_build(user_key="u:5", limit=12, now=now, feed_request_id=result.feed_request_id)
    assert [it.index for it in again.ranking.items] == [it.index for it in result.ranking.items]
    assert again.credits == result.credits


def serve_and_click(users, *, now, clicks_for):
    """Serve each user one feed of 5, render all of it, and click the positions clicks_for(result) names."""
    impressions, clicks = [], []
    for user in users:
        result = feed_serve(user_key=user, limit=5, now=now)
        for it in result.ranking.items:
            market = result.catalog.market_id[it.index]
            impressions.append({**impression(Market(market_id=market), user, now),
                                "feed_request_id": result.feed_request_id, "position": it.position})
        for position in clicks_for(result):
            market = result.catalog.market_id[result.ranking.items[position].index]
            clicks.append(event(Market(market_id=market), user, "click", now + timedelta(seconds=5),
                                feed_request_id=result.feed_request_id, position=position))
    ingest_impressions(impressions, received_at=now + timedelta(seconds=1))
    ingest(clicks, received_at=now + timedelta(seconds=6))


@pytest.mark.django_db
def test_ab_metrics_show_the_better_arm_with_intervals_and_no_sample_ratio_alarm(
    configs, django_capture_on_commit_callbacks, admin_client
):
    _, control, treatment = configs
    now = timezone.now() - timedelta(minutes=30)
    e = experiment(control, treatment, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=e, user=None, now=now)
    users = [f"u:{k}" for k in range(80)]
    # Treatment users click 2 of 5 items; control users 1 of 5 every other feed.
    serve_and_click(users, now=now, clicks_for=lambda r: (0, 1) if r.arm == "treatment" else
                    ((0,) if int(r.user_key[2:]) % 2 else ()))
    metrics = experiment_metrics(experiment=e, now=now + timedelta(minutes=1))
    arms = {a["name"]: a for a in metrics["arms"]}
    assert arms["control"]["users"] + arms["treatment"]["users"] == 80
    assert arms["treatment"]["ctr"]["value"] == pytest.approx(0.4)
    assert arms["control"]["ctr"]["value"] == pytest.approx(0.1, abs=0.03)
    low, high = arms["treatment"]["ctr"]["low"], arms["treatment"]["ctr"]["high"]
    assert low < 0.4 < high or low == high == 0.4  # every treatment user clicked exactly 2 of 5
    vs = arms["treatment"]["ctr_vs_first"]
    assert vs["low"] > 0 and vs["p"] < 0.001
    assert metrics["srm"]["alarm"] is False and metrics["srm"]["p"] > 0.001
    assert metrics["verdict"].startswith("treatment beats control on CTR")
    assert arms["treatment"]["impressions"] == 5 * arms["treatment"]["users"]
    # The beat task stores them on the experiment, and the admin page shows them.
    assert experiment_metrics_refresh(now=now + timedelta(minutes=1)) == {"experiments": 1}
    e.refresh_from_db()
    assert e.metrics["verdict"] == metrics["verdict"]
    page = admin_client.get(reverse("admin:personalization_experiment_change", args=(e.pk,))).content.decode()
    assert "treatment beats control on CTR" in page and "40.00% [" in page and "no mismatch" in page


@pytest.mark.django_db
def test_users_missing_from_one_arm_raise_the_sample_ratio_alarm(configs, django_capture_on_commit_callbacks):
    _, control, treatment = configs
    now = timezone.now() - timedelta(minutes=30)
    e = experiment(control, treatment, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=e, user=None, now=now)
    # A logging fault: the control arm's feeds of most users never arrive.
    users = [u for u in (f"u:{k}" for k in range(300))
             if arm_assign(e.salt, u, [0.5, 0.5]) == 1 or int(u[2:]) % 5 == 0]
    serve_and_click(users, now=now, clicks_for=lambda r: (0,))
    metrics = experiment_metrics(experiment=e, now=now + timedelta(minutes=1))
    assert metrics["srm"]["alarm"] is True and metrics["srm"]["p"] < 0.001
    assert metrics["verdict"].startswith("Sample ratio mismatch")


@pytest.mark.django_db
def test_interleaving_metrics_give_the_preferred_arm_with_a_binomial_interval(
    configs, django_capture_on_commit_callbacks
):
    _, control, treatment = configs
    now = timezone.now() - timedelta(minutes=30)
    e = experiment(control, treatment, now=now, mode=Experiment.Mode.INTERLEAVE)
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=e, user=None, now=now)
    # Every user clicks the first item the treatment arm placed.
    serve_and_click([f"u:{k}" for k in range(40)], now=now,
                    clicks_for=lambda r: [next(k for k, c in enumerate(r.credits) if c[0] == "treatment")])
    metrics = experiment_metrics(experiment=e, now=now + timedelta(minutes=1))
    pref = metrics["preference"]
    assert pref["feeds"] == 40 and pref["wins"] == {"control": 0, "treatment": 40}
    assert pref["share_first"] == 0 and pref["high"] < 0.5 and pref["p"] < 0.01 and pref["fixed_p"] < 1e-6
    assert metrics["verdict"].startswith("treatment is preferred")
    assert "srm" not in metrics


def test_the_always_valid_test_keeps_its_level_when_an_editor_looks_again_and_again_and_a_fixed_one_does_not():
    rng = np.random.default_rng(11)
    data = rng.standard_normal((2000, 500))  # A/A: no effect; looks after every 10 observations
    looks = np.arange(10, 501, 10)
    means = np.cumsum(data, axis=1)[:, looks - 1] / looks
    se = 1 / np.sqrt(looks)
    from personalization.ranking.experiments import always_valid, difference

    ever_valid = ever_fixed = 0
    for row in means:
        ps = [always_valid(m, s, 0.2)[2] for m, s in zip(row, se, strict=True)]
        fixed = [difference((m, s), (0.0, 0.0))[3] for m, s in zip(row, se, strict=True)]
        ever_valid += min(ps) < 0.05
        ever_fixed += min(fixed) < 0.05
    assert ever_valid / len(means) <= 0.05 < 0.2 < ever_fixed / len(means)
    # And it still finds a real effect.
    low, high, p = always_valid(0.5, 0.1, 0.2)
    assert p < 0.001 and low > 0 and low < 0.5 < high
