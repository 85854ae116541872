"""setup_periodic_tasks: every task in django-celery-beat, idempotent, UTC crontabs that DST cannot move."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.tzcrontab import TzAwareCrontab

from feedproject.celery import app
from ops.periodic import PERIODIC_TASKS

pytestmark = pytest.mark.django_db


def beat_rows():
    return sorted(PeriodicTask.objects.values_list(
        "name", "task", "crontab__minute", "crontab__hour", "expire_seconds", "enabled"))


def test_every_periodic_task_is_registered_with_a_utc_crontab_and_an_expiry_within_its_interval():
    call_command("setup_periodic_tasks")
    app.loader.import_default_modules()  # what a worker does at start: autodiscover every tasks.py
    rows = {t.name: t for t in PeriodicTask.objects.select_related("crontab")}
    assert set(rows) == set(PERIODIC_TASKS)
    for name, spec in PERIODIC_TASKS.items():
        task = rows[name]
        assert task.task == name and task.task in app.tasks  # the worker knows the name beat sends
        assert str(task.crontab.timezone) == "UTC"
        assert task.interval is None and task.crontab.minute == spec.crontab["minute"]
        assert 0 < task.expire_seconds <= spec.interval.total_seconds()
        assert task.enabled


def test_running_it_again_changes_nothing_and_keeps_a_paused_task_paused():
    call_command("setup_periodic_tasks")
    PeriodicTask.objects.filter(name="personalization.affinity_decay").update(enabled=False)
    before, crontabs = beat_rows(), CrontabSchedule.objects.count()
    call_command("setup_periodic_tasks")
    assert beat_rows() == before
    assert CrontabSchedule.objects.count() == crontabs
    assert not PeriodicTask.objects.get(name="personalization.affinity_decay").enabled


def test_a_schedule_edited_away_from_the_code_is_put_back():
    call_command("setup_periodic_tasks")
    PeriodicTask.objects.filter(name="markets.velocity_refresh").update(expire_seconds=3600)
    call_command("setup_periodic_tasks")
    assert PeriodicTask.objects.get(name="markets.velocity_refresh").expire_seconds == 60


def runs(schedule, start, count):
    """The next `count` fire times of a crontab schedule after `start`, in UTC."""
    out, last = [], start
    for _ in range(count):
        last_run_at, delta, _ = schedule.remaining_delta(last)
        last = last_run_at + delta
        out.append(last.astimezone(dt_timezone.utc))
    return out


@pytest.mark.parametrize("switch", [
    datetime(2026, 3, 8, 7, 0, tzinfo=dt_timezone.utc),    # US spring forward
    datetime(2026, 3, 29, 1, 0, tzinfo=dt_timezone.utc),   # EU spring forward
    datetime(2026, 10, 25, 1, 0, tzinfo=dt_timezone.utc),  # EU fall back
    datetime(2026, 11, 1, 6, 0, tzinfo=dt_timezone.utc),   # US fall back
])
@pytest.mark.parametrize("app_timezone", ["UTC", "Europe/London", "America/New_York", "Asia/Jerusalem"])
def test_daylight_saving_changes_cannot_move_a_utc_schedule(switch, app_timezone, monkeypatch):
    monkeypatch.setattr(app.conf, "timezone", app_timezone)
    call_command("setup_periodic_tasks")
    daily = PeriodicTask.objects.get(name="tracking.impressions_retention").crontab.schedule
    hourly = PeriodicTask.objects.get(name="personalization.affinity_decay").crontab.schedule
    assert isinstance(daily, TzAwareCrontab)
    # The same crontab in a local zone does move in UTC across the switch: the test can fail.
    local = TzAwareCrontab(minute="30", hour="3", tz=ZoneInfo("Europe/London"))
    local_runs = runs(local, switch - timedelta(days=3), 6)
    start = switch - timedelta(days=3)
    assert {(t.hour, t.minute) for t in runs(daily, start, 6)} == {(3, 30)}
    assert {
        b - a for a, b in zip(runs(daily, start, 6), runs(daily, start, 6)[1:], strict=False)
    } == {timedelta(days=1)}
    hourly_runs = runs(hourly, switch - timedelta(hours=5), 10)
    assert {t.minute for t in hourly_runs} == {7}
    assert {b - a for a, b in zip(hourly_runs, hourly_runs[1:], strict=False)} == {timedelta(hours=1)}
    if switch.month in (3, 10) and switch.day > 20:  # Europe/London switches on these
        assert len({(t.hour, t.minute) for t in local_runs}) == 2


def test_celery_runs_in_utc():
    assert app.conf.timezone == "UTC" and app.conf.enable_utc
