"""The learned ranker's admin: versions with their held-out report, training on demand, activation and rollback."""
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from feedproject.celery import app as celery_app
from personalization.feed_configs import feed_config_save_version
from personalization.models import RankingModel
from personalization.ranking.config import LEARNED, default_params
from personalization.tests.served_traffic import SMALL, traffic
from personalization.training import ranking_model_train

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:personalization_rankingmodel_changelist"


@pytest.fixture
def trained(markets, base):
    traffic(markets, base)
    now = base + timedelta(hours=8)
    ready = RankingModel.objects.get(version=ranking_model_train(now=now, config=SMALL)["version"])
    starved = RankingModel.objects.get(
        version=ranking_model_train(now=now, config=SMALL.__class__(14, 10**6, 10, False))["version"]
    )
    return ready, starved


def learned_home():
    params = default_params()
    params["ranker"]["model"] = LEARNED
    feed_config_save_version(surface="home", params=params, note="learned", created_by=None, activate=True)


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_list_shows_each_version_with_its_aucs_beside_the_formulas(admin_client, trained):
    ready, starved = trained
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    click = ready.report["outcomes"]["click"]
    assert f"{click['auc']:.3f} (formula {click['formula_auc']:.3f})" in page
    assert "too little data: " in page and "the minimum is 1,000,000" in page
    # Which ranker serves, in words: no config asks for the model yet.
    assert "The formula ranks every surface" in page


def test_the_page_says_why_the_formula_serves_when_a_config_asks_for_the_model(admin_client, trained):
    learned_home()
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "The formula ranks home although its config asks for the learned model" in page
    assert "v2, is too little data" in page


def test_a_version_page_shows_the_report_calibration_and_coefficients(admin_client, trained):
    ready, _ = trained
    page = admin_client.get(reverse("admin:personalization_rankingmodel_change", args=(ready.pk,))).content.decode()
    for text in ("Held-out results", "formula AUC", "mean predicted", "observed", "interest", "log_position"):
        assert text in page
    assert "Save" not in page  # read-only: versions are never edited


def test_activating_a_version_and_rolling_back(admin_client, trained, django_capture_on_commit_callbacks):
    ready, starved = trained
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse(CHANGELIST), {"action": "activate_selected",
                                                           "_selected_action": [ready.pk]}, follow=True)
    assert any(f"Activated {ready}" in m for m in messages_of(response))
    learned_home()
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert f"ranking model v{ready.version} (active) ranks the personal pool of home" in page
    response = admin_client.post(reverse(CHANGELIST), {"action": "activate_selected",
                                                       "_selected_action": [starved.pk]}, follow=True)
    assert any("is not ready to serve" in m for m in messages_of(response))
    assert RankingModel.objects.get(is_active=True) == ready
    response = admin_client.post(reverse(CHANGELIST), {"action": "deactivate_all",
                                                       "_selected_action": [ready.pk]}, follow=True)
    assert not RankingModel.objects.filter(is_active=True).exists()
    assert any("the formula ranks every surface" in m for m in messages_of(response))


def test_the_train_button_fits_a_new_version_in_the_worker(admin_client, trained, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    before = RankingModel.objects.count()
    response = admin_client.post(reverse("admin:personalization_rankingmodel_train"), follow=True)
    assert any("Training started" in m for m in messages_of(response))
    newest = RankingModel.objects.first()
    assert RankingModel.objects.count() == before + 1 and newest.trigger == "admin"
    assert newest.created_by is not None and newest.trained_at <= timezone.now()


def test_the_train_button_needs_a_post(admin_client, trained):
    response = admin_client.get(reverse("admin:personalization_rankingmodel_train"), follow=True)
    assert any("needs a POST" in m for m in messages_of(response))
