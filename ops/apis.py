"""`GET /healthz`: for monitors and ops; 503 when the database is down or a periodic task is stale."""
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ops.selectors import health_report


class HealthzApi(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []

    @extend_schema(
        responses={
            (200, "application/json"): inline_serializer(
                "Health",
                {
                    "status": serializers.ChoiceField(["ok", "degraded", "unhealthy"]),
                    "checked_at": serializers.DateTimeField(),
                    "checks": serializers.DictField(help_text="database, cache, broker: {ok, ms, error?}"),
                    "tasks": serializers.DictField(
                        help_text="per periodic task: last_success_at, age_seconds, stale_after_seconds, ok, ..."
                    ),
                },
            )
        },
        description="200 when healthy (status ok, or degraded when the cache or broker is down); "
        "503 when the database is down or an enabled periodic task has not succeeded recently.",
    )
    def get(self, request):
        healthy, report = health_report(now=timezone.now())
        return Response(report, status=200 if healthy else 503)
