"""Each periodic task keeps the history of its recent runs, linked from its rows in admin."""
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from ops.locks import lock_acquire
from ops.models import TaskRunRecord
from ops.services import periodic_task_run

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NAME = "markets.velocity_refresh"


def test_successes_failures_and_skips_are_recorded_with_their_time_duration_and_outcome():
    periodic_task_run(name=NAME, run=lambda *, now: {"rows": 3}, now=NOW)

    def broken(*, now):
        raise ValueError("bad data")

    with pytest.raises(ValueError):
        periodic_task_run(name=NAME, run=broken, now=NOW + timedelta(minutes=1))
    lock_acquire(name=NAME, now=NOW + timedelta(minutes=2), duration=timedelta(minutes=5))
    periodic_task_run(name=NAME, run=lambda *, now: {}, now=NOW + timedelta(minutes=3))

    skipped, failed, success = TaskRunRecord.objects.filter(name=NAME)  # newest first
    assert (success.outcome, success.started_at, success.result["rows"]) == ("success", NOW, 3)
    assert success.duration_ms is not None and success.finished_at >= NOW
    assert failed.outcome == "failed" and "bad data" in failed.error and failed.started_at == NOW + timedelta(minutes=1)
    assert skipped.outcome == "skipped" and skipped.duration_ms is None


def test_only_the_last_runs_of_each_task_are_kept():
    kept = TaskRunRecord.RECORDS_KEPT
    for k in range(kept + 5):
        periodic_task_run(name=NAME, run=lambda *, now: {}, now=NOW + timedelta(minutes=k))
    periodic_task_run(name="markets.trending_refresh", run=lambda *, now: {}, now=NOW)
    runs = TaskRunRecord.objects.filter(name=NAME)
    assert runs.count() == kept
    assert runs.last().started_at == NOW + timedelta(minutes=5)  # the five oldest are gone
    assert TaskRunRecord.objects.filter(name="markets.trending_refresh").count() == 1


def test_the_task_rows_in_admin_link_to_their_history(admin_client):
    call_command("setup_periodic_tasks")
    periodic_task_run(name=NAME, run=lambda *, now: {"rows": 7}, now=NOW)
    history = f"/admin/ops/taskrunrecord/?name={NAME}"
    for page in ("/admin/django_celery_beat/periodictask/", "/admin/ops/taskrun/"):
        html = admin_client.get(page).content.decode()
        assert history in html, page
    listing = admin_client.get(history)
    assert listing.status_code == 200 and "rows=7" in listing.content.decode()
