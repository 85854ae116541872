"""The periodic tasks as of a given time: `POST /api/ops/periodic-tasks/run` and `run_periodic_tasks --at`."""
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from rest_framework.test import APIClient

from feedproject.identity import REPLAY_PERMISSION, SERVICE_PERMISSION
from feedproject.tests.clients import token_client
from markets.models import MarketVelocity
from ops.models import TaskRun, TaskRunRecord
from ops.periodic import PERIODIC_TASKS
from ops.tests.test_periodic_task_run import NOW, state, traffic  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db
URL = "/api/ops/periodic-tasks/run"


@pytest.fixture
def replay():
    return token_client("evaluator", REPLAY_PERMISSION.split(".")[1])


def test_it_runs_every_task_as_of_at_as_the_worker_would_have_then(replay, traffic, monkeypatch):  # noqa: F811
    with transaction.atomic():
        with monkeypatch.context() as frozen:
            frozen.setattr("django.utils.timezone.now", lambda: NOW)
            call_command("run_periodic_tasks", stdout=StringIO())
        worker_then = state()
        transaction.set_rollback(True)

    response = replay.post(URL, {"at": NOW.isoformat()}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert [t["name"] for t in body["tasks"]] == list(PERIODIC_TASKS)
    assert {t["outcome"] for t in body["tasks"]} == {"success"}
    assert {t["result"]["as_of"] for t in body["tasks"]} == {NOW.isoformat()}
    assert state() == worker_then and MarketVelocity.objects.exists()
    assert set(TaskRun.objects.values_list("last_success_at", flat=True)) == {NOW}
    assert set(TaskRunRecord.objects.values_list("started_at", flat=True)) == {NOW}


def test_only_runs_the_named_tasks_in_the_order_given(replay, traffic):  # noqa: F811
    response = replay.post(URL, {"at": NOW.isoformat(), "only": ["trending_refresh", "markets.velocity_refresh"]},
                           format="json")
    assert [t["name"] for t in response.json()["tasks"]] == ["markets.trending_refresh", "markets.velocity_refresh"]
    assert set(TaskRun.objects.values_list("name", flat=True)) == {"markets.trending_refresh",
                                                                   "markets.velocity_refresh"}


def test_a_failing_task_is_reported_and_the_others_still_run(replay, traffic, monkeypatch):  # noqa: F811
    def broken(*, now):
        raise RuntimeError("velocity is broken")

    monkeypatch.setattr("tracking.tasks.market_velocity_refresh", broken)
    response = replay.post(URL, {"at": NOW.isoformat(), "only": ["velocity_refresh", "snapshots_refresh"]},
                           format="json")
    assert response.status_code == 200
    velocity, snapshots = response.json()["tasks"]
    assert (velocity["outcome"], velocity["error"]) == ("failed", "RuntimeError: velocity is broken")
    assert snapshots["outcome"] == "success" and snapshots["result"]["snapshots"] > 0


@pytest.mark.parametrize("body, field", [
    ({}, "at"),
    ({"at": "2026-11-26T12:00:00"}, "at"),
    ({"at": NOW.isoformat(), "only": ["no_such_task"]}, "only"),
    ({"at": NOW.isoformat(), "only": []}, "only"),
    ({"at": NOW.isoformat(), "onyl": ["velocity_refresh"]}, "onyl"),
])
def test_a_bad_body_is_a_400_on_the_field_and_runs_nothing(replay, body, field):
    response = replay.post(URL, body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not TaskRun.objects.exists()


def test_only_a_token_with_the_replay_permission_may_run_them():
    body = {"at": NOW.isoformat()}
    assert APIClient().post(URL, body, format="json").status_code == 401
    service = token_client("service", SERVICE_PERMISSION.split(".")[1], "change_market")
    response = service.post(URL, body, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "A service token with the ops.replay_as_of permission is required."}
    assert not TaskRun.objects.exists()


def test_the_command_runs_the_tasks_at_the_given_time(traffic):  # noqa: F811
    out = StringIO()
    call_command("run_periodic_tasks", "--at", NOW.isoformat(), "--only", "velocity_refresh", stdout=out)
    assert "markets.velocity_refresh: ok in" in out.getvalue() and f"as of {NOW.isoformat()}" in out.getvalue()
    assert TaskRun.objects.get().last_success_at == NOW
    assert set(MarketVelocity.objects.values_list("computed_at", flat=True)) == {NOW}


@pytest.mark.parametrize("value", ["2026-11-26T12:00:00", "tomorrow", "1900-01-01T00:00:00Z"])
def test_the_command_refuses_a_time_without_a_zone_or_out_of_range(value):
    with pytest.raises(CommandError, match="--at: "):
        call_command("run_periodic_tasks", "--at", value)
    assert not TaskRun.objects.exists()
