"""Ops see each periodic task's lock, last run and recent history; the schedules are django-celery-beat's."""
from django.contrib import admin
from django.utils.html import format_html
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from feedproject.admin_kit import ReadOnlyAdmin, changelist_link
from ops.models import TaskRun, TaskRunRecord


def _history_link(name):
    return changelist_link(TaskRunRecord, f"last {TaskRunRecord.RECORDS_KEPT} runs", name=name)


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = (
        "name", "last_success_at", "last_duration_ms", "last_error_at", "locked_until", "runs_total",
        "failures_total", "skipped_total", "history",
    )
    readonly_fields = [f.name for f in TaskRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="history")
    def history(self, obj):
        return _history_link(obj.name)


@admin.register(TaskRunRecord)
class TaskRunRecordAdmin(ReadOnlyAdmin):
    """Each run of each periodic task: when it ran (as of), how long it took, how it ended."""

    list_display = ("name", "started_at", "outcome", "duration_ms", "finished_at", "short_result")
    list_filter = ("name", "outcome")
    readonly_fields = [f.name for f in TaskRunRecord._meta.fields]

    @admin.display(description="result or error")
    def short_result(self, obj):
        text = obj.error.strip().splitlines()[-1] if obj.error else ", ".join(
            f"{k}={v}" for k, v in obj.result.items() if k != "as_of"
        )
        return format_html("<span title='{}'>{}</span>", obj.error or text, text[:120])


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class PeriodicTaskWithHistoryAdmin(PeriodicTaskAdmin):
    """django-celery-beat's page, with each task's recent runs one click away."""

    def get_list_display(self, request):
        return (*super().get_list_display(request), "history")

    @admin.display(description="history")
    def history(self, obj):
        return _history_link(obj.name)
