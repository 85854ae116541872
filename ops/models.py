"""What ops watch: one row per periodic task with its lease (the lock) and its last run, and the
history of its recent runs."""
from django.db import models


class TaskRun(models.Model):
    """The lock and the last outcome of one periodic task.

    A run takes the task by setting `locked_until` in one conditional UPDATE (free or
    expired lease only), so two workers or two beat processes never run it at once,
    on SQLite and PostgreSQL alike, whether or not Redis is up (ops/locks.py).
    """

    name = models.CharField(max_length=100, unique=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    locked_by = models.CharField(max_length=64, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(
        null=True, blank=True, help_text="The time the last successful run computed its data as of."
    )
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_result = models.JSONField(default=dict, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    runs_total = models.PositiveIntegerField(default=0)
    failures_total = models.PositiveIntegerField(default=0)
    skipped_total = models.PositiveIntegerField(default=0, help_text="Runs that found the task already running.")

    class Meta:
        ordering = ["name"]
        # Checked by feedproject.identity (REPLAY_PERMISSION): a token's right to pass `as_of` and to run
        # the periodic tasks at a given time. Here because ops is the lowest app with a model.
        permissions = [("replay_as_of", "Can pass as_of: act at a given time (replays, evaluators)")]

    def __str__(self):
        return self.name


class TaskRunRecord(models.Model):
    """One run of a periodic task: when, how long, how it ended. The last RECORDS_KEPT per task are kept."""

    RECORDS_KEPT = 50

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        FAILED = "failed"
        SKIPPED = "skipped", "skipped (another run held the lock)"

    name = models.CharField(max_length=100)
    started_at = models.DateTimeField(help_text="The `now` the run was given.")
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["name", "-id"], name="taskrunrecord_name_recent")]

    def __str__(self):
        return f"{self.name} at {self.started_at:%Y-%m-%d %H:%M:%S} ({self.outcome})"
