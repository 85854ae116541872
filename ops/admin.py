"""Ops see each periodic task's lock and last run; the schedules themselves are django-celery-beat's."""
from django.contrib import admin

from ops.models import TaskRun


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = (
        "name", "last_success_at", "last_duration_ms", "last_error_at", "locked_until", "runs_total",
        "failures_total", "skipped_total",
    )
    readonly_fields = [f.name for f in TaskRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
