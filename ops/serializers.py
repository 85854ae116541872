"""The shape of GET /healthz; the view renders its report through HealthSerializer."""
from rest_framework import serializers


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
