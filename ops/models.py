"""What ops watch: one row per periodic task with its lease (the lock) and its last run."""
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

    def __str__(self):
        return self.name
