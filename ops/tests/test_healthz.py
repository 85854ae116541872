"""GET /healthz: database, cache, broker, and the age of each periodic task's last success."""
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from feedproject.celery import app
from ops.models import TaskRun
from ops.periodic import PERIODIC_TASKS

pytestmark = pytest.mark.django_db


def succeeded(age, names=PERIODIC_TASKS):
    at = timezone.now() - age
    for name in names:
        TaskRun.objects.update_or_create(name=name, defaults={"last_success_at": at})


@pytest.fixture
def registered():
    call_command("setup_periodic_tasks")


def test_fresh_tasks_and_reachable_services_are_healthy(registered, django_assert_max_num_queries):
    succeeded(timedelta(seconds=30))
    with django_assert_max_num_queries(3):  # SELECT 1, task runs, beat entries
        response = APIClient().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {k: v["ok"] for k, v in body["checks"].items()} == {"database": True, "cache": True, "broker": True}
    velocity = body["tasks"]["markets.velocity_refresh"]
    assert velocity["ok"] and velocity["registered"] and 25 < velocity["age_seconds"] < 60
    assert velocity["stale_after_seconds"] == 300


def test_a_stale_task_makes_it_unhealthy(registered):
    succeeded(timedelta(seconds=30))
    succeeded(timedelta(minutes=6), names=["markets.velocity_refresh"])
    response = APIClient().get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert response.json()["tasks"]["markets.velocity_refresh"]["ok"] is False
    assert response.json()["tasks"]["markets.trending_refresh"]["ok"] is True


def test_a_task_that_never_succeeded_is_unhealthy(registered):
    succeeded(timedelta(seconds=30), names=[n for n in PERIODIC_TASKS if n != "markets.trending_refresh"])
    body = APIClient().get("/healthz").json()
    assert body["status"] == "unhealthy"
    assert body["tasks"]["markets.trending_refresh"]["last_success_at"] is None


def test_a_task_paused_in_admin_is_reported_but_not_held_against_health(registered):
    succeeded(timedelta(seconds=30), names=[n for n in PERIODIC_TASKS if n != "personalization.affinity_decay"])
    PeriodicTask.objects.filter(name="personalization.affinity_decay").update(enabled=False)
    response = APIClient().get("/healthz")
    assert response.status_code == 200
    assert response.json()["tasks"]["personalization.affinity_decay"]["paused"] is True


def test_a_broker_that_is_down_degrades_but_does_not_fail_the_check(registered, monkeypatch):
    succeeded(timedelta(seconds=30))
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = APIClient().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["database"]["ok"] is True


def test_a_database_that_is_down_is_unhealthy_not_a_500(registered, monkeypatch):
    from ops import selectors

    monkeypatch.setattr(selectors, "_database", lambda: (False, "OperationalError"))
    response = APIClient().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "ms": pytest.approx(0, abs=5),
                                                     "error": "OperationalError"}


def test_each_task_says_its_state_in_words_paused_fresh_stale_or_never_run(registered):
    names = list(PERIODIC_TASKS)
    paused, stale, never, *fresh = names
    succeeded(timedelta(seconds=30), names=fresh)
    succeeded(timedelta(days=5), names=[stale])
    PeriodicTask.objects.filter(name=paused).update(enabled=False)
    tasks = APIClient().get("/healthz").json()["tasks"]
    assert tasks[paused]["state"] == "paused"
    assert tasks[stale]["state"] == "stale"
    assert tasks[never]["state"] == "never_run"
    assert {tasks[name]["state"] for name in fresh} == {"fresh"}


def test_the_trailing_slash_gets_the_same_answer_without_a_redirect(registered):
    succeeded(timedelta(seconds=30))
    plain, slashed = APIClient().get("/healthz"), APIClient().get("/healthz/")
    assert slashed.status_code == plain.status_code == 200
    assert slashed.json()["status"] == plain.json()["status"] == "ok"
    assert set(slashed.json()) == set(plain.json())
