"""`GET /healthz`: for monitors and ops; 503 when the database is down or a periodic task is stale."""
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from ops.selectors import health_report
from ops.serializers import HealthSerializer


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
