"""The admin kit every app uses for its big, server-written tables.

ReadOnlyAdmin (no add or edit, deletes one page at a time), CappedCountPaginator (no full
COUNT(*) over a log), ExactSearchMixin (indexed equality search only), recent_filter and
ScopeFilter (windows and scopes without a scan), and the small column and link helpers.
"""
from datetime import timedelta
from functools import cached_property
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: COUNT(*) over a log of millions is a full scan on every page view.

    Past the cap the changelist says "more than 10000 ..."; narrow down with a filter or
    a search instead of paging that far.
    """

    CAP = 10_000

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.approximate = False

    @cached_property
    def count(self):
        # SELECT COUNT(*) FROM (SELECT ... LIMIT CAP + 1): stops reading after CAP + 1 rows.
        found = self.object_list.order_by()[: self.CAP + 1].count()
        if found > self.CAP:
            self.approximate = True
            return self.CAP
        return found


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the server (events, counters, profiles): nobody adds or edits them here.

    Superusers may delete (a bad import, a test user), one page of rows at a time.
    """

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a COUNT per filter choice over the whole table
    # Newest first through the primary key index; a sort on an unindexed column of a
    # big table would read all of it, so only the columns listed here are sortable.
    ordering = ("-pk",)
    sortable_by = ()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (self._delete_selected_on_page, name, description)
        return actions

    @staticmethod
    def _delete_selected_on_page(modeladmin, request, queryset):
        # "Select all N" would delete every matching row of a log in one request (and
        # load them all for the confirmation page); retention is the beat task's job.
        if request.POST.get("select_across") == "1":
            modeladmin.message_user(
                request,
                "Deleting across all pages is disabled for this table: select rows on one page.",
                messages.ERROR,
            )
            return None
        return delete_selected(modeladmin, request, queryset)


class ExactSearchMixin:
    """Search by exact values through indexes only (a LIKE '%term%' over millions of rows is a scan).

    `exact_search_fields` are local fields compared with `=` after conversion (a term
    that is not a UUID is simply not compared with a UUID field); with
    `market_search_field`, a term that is a market's slug matches that market's rows.
    """

    exact_search_fields = ()
    market_search_field = None

    def get_search_fields(self, request):
        fields = tuple(self.exact_search_fields)
        if self.market_search_field:
            fields += (f"{self.market_search_field}__market_id",)
        return fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        conditions = []
        for name in self.exact_search_fields:
            try:
                value = self.model._meta.get_field(name).to_python(term)
            except ValidationError:
                continue
            conditions.append(Q(**{name: value}))
        if self.market_search_field:
            # One indexed lookup on the catalog, then an indexed `market_id = pk` on the
            # log, instead of a join from every log row to the catalog.
            market_model = self.model._meta.get_field(self.market_search_field).related_model
            market_pks = list(market_model.objects.filter(market_id=term).order_by().values_list("pk", flat=True))
            if market_pks:
                conditions.append(Q(**{f"{self.market_search_field}_id": market_pks[0]}))
        if not conditions:
            return queryset.none(), False
        combined = conditions[0]
        for condition in conditions[1:]:
            combined |= condition
        return queryset.filter(combined), False

    @property
    def search_help_text(self):
        parts = [self.model._meta.get_field(name).verbose_name for name in self.exact_search_fields]
        if self.market_search_field:
            parts.append("market id (slug)")
        return "Exact match on " + ", ".join(parts) + "."


RECENT_WINDOWS = {
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
}


def recent_filter(field_name, title=None):
    """A list filter "<field> within the last hour / day / week / month".

    Used instead of date_hierarchy on big tables: the hierarchy runs
    SELECT DISTINCT date_trunc(...) over every matching row on each page view, while
    a range on the (indexed) time column reads only the window.
    """

    class RecentFilter(admin.SimpleListFilter):
        parameter_name = f"{field_name}_within"

        def lookups(self, request, model_admin):
            return [(key, label) for key, (label, _) in RECENT_WINDOWS.items()]

        def queryset(self, request, queryset):
            window = RECENT_WINDOWS.get(self.value())
            if window is None:
                return queryset
            return queryset.filter(**{f"{field_name}__gte": timezone.now() - window[1]})

    RecentFilter.title = title or field_name.replace("_", " ")
    RecentFilter.__name__ = f"Recent{field_name.title().replace('_', '')}Filter"
    return RecentFilter


class ScopeFilter(admin.SimpleListFilter):
    """Global vs. per-country rows; a single country is found by searching its code (e.g. IL)."""

    title = "scope"
    parameter_name = "scope_kind"

    def lookups(self, request, model_admin):
        return [("global", "Global"), ("country", "Any country")]

    def queryset(self, request, queryset):
        if self.value() == "global":
            return queryset.filter(scope="global")
        if self.value() == "country":
            return queryset.exclude(scope="global")
        return queryset


@admin.display(description="market", ordering="market__market_id")
def market_column(obj):
    """The market's slug: the title is long, and the slug is what logs and the API use."""
    return obj.market.market_id


def changelist_link(model, label, **params):
    """A link to a changelist, filtered by `params`. `model` is a model or "app_label.modelname",
    so an app can link to a table of an app above it without importing it."""
    if isinstance(model, str):
        app_label, model_name = model.lower().split(".")
    else:
        app_label, model_name = model._meta.app_label, model._meta.model_name
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(params), label)
