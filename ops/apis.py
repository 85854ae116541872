"""`GET /healthz`: for monitors and ops; 503 when the database is down or a periodic task is stale.
`POST /api/ops/periodic-tasks/run`: the periodic tasks as of a given time, for replay tokens."""
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from feedproject.api import CanReplay, LimitedJSONParser, json_body
from ops.periodic import PERIODIC_TASKS, periodic_task_spec
from ops.selectors import health_report
from ops.serializers import (
    HealthSerializer,
    PeriodicTasksRunRequestSerializer,
    PeriodicTasksRunResponseSerializer,
)
from ops.services import periodic_tasks_run_here


class HealthzApi(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []

    @extend_schema(
        responses={(200, "application/json"): HealthSerializer, (503, "application/json"): HealthSerializer},
        description="200 when healthy (status ok, or degraded when the cache or broker is down); "
        "503 when the database is down or an enabled periodic task has not succeeded recently.",
    )
    def get(self, request):
        healthy, report = health_report(now=timezone.now())
        return Response(HealthSerializer(report).data, status=200 if healthy else 503)


class PeriodicTasksRunApi(APIView):
    """Run the periodic tasks once, as of `at`, under their locks: what `run_periodic_tasks --at` does.

    For a replay or an evaluator driving the system over HTTP on its own clock (docs/replay.md).
    """

    permission_classes = [CanReplay]
    parser_classes = [LimitedJSONParser]

    @extend_schema(
        request=PeriodicTasksRunRequestSerializer,
        responses=PeriodicTasksRunResponseSerializer,
        description="200 with each task's outcome: success (with its result), skipped (another run holds "
        "its lock) or failed (with the error; the other tasks still run). Service tokens with the "
        "ops.replay_as_of permission only.",
        examples=[
            OpenApiExample("trending as of a time", request_only=True,
                           value={"at": "2026-11-26T10:00:00Z", "only": ["velocity_refresh", "trending_refresh"]}),
            OpenApiExample("outcomes", response_only=True, value={"at": "2026-11-26T10:00:00Z", "tasks": [
                {"name": "markets.velocity_refresh", "outcome": "success", "duration_ms": 42,
                 "result": {"as_of": "2026-11-26T10:00:00+00:00", "rows": 7}},
                {"name": "markets.trending_refresh", "outcome": "skipped", "duration_ms": 0},
            ]}),
        ],
    )
    def post(self, request):
        body = PeriodicTasksRunRequestSerializer(data=json_body(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        names = [periodic_task_spec(name).name for name in data["only"]] if "only" in data else list(PERIODIC_TASKS)
        report = periodic_tasks_run_here(names=names, at=data["at"])
        return Response(PeriodicTasksRunResponseSerializer({"at": data["at"], "tasks": report}).data)
