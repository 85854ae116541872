"""Read-only admin for the raw event log and the activity buckets, for ops inspecting traffic.

These are the biggest tables: counts are capped, search is exact and indexed, time
is filtered by recent windows rather than a date hierarchy (see docs/admin.md).
"""
from django.contrib import admin

from feedproject.admin_kit import (
    ExactSearchMixin,
    ReadOnlyAdmin,
    ScopeFilter,
    market_column,
    recent_filter,
)
from feedproject.vocabulary import EVENT_TYPES, Surface, choices
from tracking.models import (
    Impression,
    Interaction,
    MarketActivity,
    MarketActivityUser,
    RejectedEvent,
    ServedItem,
)


class EventTypeFilter(admin.SimpleListFilter):
    """The event types of the vocabulary, without a SELECT DISTINCT over the whole log."""

    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in sorted(EVENT_TYPES)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(event_type=self.value())
        return queryset


class SurfaceFilter(admin.SimpleListFilter):
    title = "surface"
    parameter_name = "surface"

    def lookups(self, request, model_admin):
        return choices(Surface)

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(surface=self.value())
        return queryset


class MarketLogAdmin(ExactSearchMixin, ReadOnlyAdmin):
    market_search_field = "market"
    market_column = staticmethod(market_column)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("market")


@admin.register(Impression)
class ImpressionAdmin(MarketLogAdmin):
    list_display = (
        "shown_at",
        "user_key",
        "market_column",
        "surface",
        "section",
        "position",
        "feed_request_id",
        "received_at",
    )
    list_filter = (recent_filter("shown_at", "shown"), SurfaceFilter, "section")
    exact_search_fields = ("user_key", "event_id")


@admin.register(Interaction)
class InteractionAdmin(MarketLogAdmin):
    list_display = (
        "occurred_at",
        "user_key",
        "event_type",
        "market_column",
        "dwell_ms",
        "section",
        "position",
        "geo_country",
        "received_at",
    )
    list_filter = (recent_filter("occurred_at", "occurred"), EventTypeFilter, "section")
    exact_search_fields = ("user_key", "event_id")


@admin.register(ServedItem)
class ServedItemAdmin(MarketLogAdmin):
    """What feeds were served: searched by user key or feed request id (both indexed), not by market."""

    market_search_field = None
    list_display = ("served_at", "user_key", "position", "market_column", "pool", "reason", "score", "propensity",
                    "config_version", "feed_request_id")
    list_filter = (recent_filter("served_at", "served"), SurfaceFilter, "pool")
    exact_search_fields = ("user_key", "feed_request_id")


@admin.register(RejectedEvent)
class RejectedEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "endpoint", "field", "reason", "user_key", "event_id")
    # Rejects are a small fraction of the traffic and read to find out *why*, so this
    # table gets the convenient (scanning) filters and a contains-search on the reason.
    list_filter = (recent_filter("received_at", "received"), "endpoint", "field")
    search_fields = ("=user_key", "=event_id", "reason")
    search_help_text = "Exact user key or event id, or words of the reason."
    ordering = ("-received_at",)
    sortable_by = ("received_at",)


@admin.register(MarketActivity)
class MarketActivityAdmin(MarketLogAdmin):
    list_display = ("bucket_start", "market_column", "scope", "views", "clicks", "trades", "impressions", "engagements")
    list_filter = (recent_filter("bucket_start", "bucket"), ScopeFilter)
    exact_search_fields = ("scope",)


@admin.register(MarketActivityUser)
class MarketActivityUserAdmin(MarketLogAdmin):
    list_display = ("bucket_start", "market_column", "scope", "user_key")
    list_filter = (recent_filter("bucket_start", "bucket"), ScopeFilter)
    exact_search_fields = ("user_key", "scope")
