"""The shapes of GET /healthz and POST /api/ops/periodic-tasks/run; each view renders through its serializer."""
from rest_framework import serializers

from feedproject.api import AwareDateTimeField
from feedproject.fields import StrictSerializer
from ops.models import TaskRunRecord
from ops.periodic import PERIODIC_TASKS


class HealthCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    ms = serializers.FloatField(required=False, help_text="How long the check took.")
    error = serializers.CharField(required=False, help_text="Why it failed.")


class HealthChecksSerializer(serializers.Serializer):
    database = HealthCheckSerializer()
    cache = HealthCheckSerializer()
    broker = HealthCheckSerializer()


class TaskHealthSerializer(serializers.Serializer):
    last_success_at = serializers.DateTimeField(allow_null=True)
    age_seconds = serializers.FloatField(allow_null=True, help_text="Seconds since the last success.")
    stale_after_seconds = serializers.IntegerField()
    registered = serializers.BooleanField(help_text="It has a beat entry.")
    paused = serializers.BooleanField(help_text="Its beat entry is disabled (paused in admin).")
    running = serializers.BooleanField(help_text="A run holds its lease now.")
    last_error_at = serializers.DateTimeField(allow_null=True)
    ok = serializers.BooleanField(help_text="Fresh, or paused.")
    state = serializers.ChoiceField(
        ["fresh", "stale", "never_run", "paused"],
        help_text="paused: its beat entry is disabled, so its age is not held against health; "
        "never_run: no success recorded; stale: the last success is older than stale_after_seconds.",
    )


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(["ok", "degraded", "unhealthy"])
    checked_at = serializers.DateTimeField()
    checks = HealthChecksSerializer()
    tasks = serializers.DictField(child=TaskHealthSerializer(), help_text="Per periodic task, by name.")


class PeriodicTasksRunRequestSerializer(StrictSerializer):
    """Strict: a misspelt `only` must not run every task."""

    at = AwareDateTimeField(help_text="Run as of this time (ISO 8601 with a time zone).")
    only = serializers.ListField(
        child=serializers.ChoiceField(
            choices=[*PERIODIC_TASKS, *(spec.short_name for spec in PERIODIC_TASKS.values())]
        ),
        required=False, min_length=1, max_length=len(PERIODIC_TASKS),
        help_text="These tasks (full or short names), in this order; all of them, in schedule order, when absent.",
    )


class PeriodicTaskRunSerializer(serializers.Serializer):
    name = serializers.CharField()
    outcome = serializers.ChoiceField(choices=TaskRunRecord.Outcome.values)
    duration_ms = serializers.IntegerField()
    result = serializers.DictField(required=False, help_text="What the run did (success); its `as_of` is `at`.")
    error = serializers.CharField(required=False, help_text="`Type: message` of the exception (failed).")


class PeriodicTasksRunResponseSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    tasks = PeriodicTaskRunSerializer(many=True)
