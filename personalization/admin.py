"""Admin for what the service knows about users (read-only) and for the editors' feed configs."""
from django.contrib import admin, messages
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from feedproject.admin_kit import ExactSearchMixin, ReadOnlyAdmin, changelist_link, market_column, recent_filter
from personalization.feed_configs import feed_config_activate, feed_config_save_version
from personalization.forms import GROUP_TITLES, FeedConfigForm, FeedPreviewForm, param_fieldsets, param_label
from personalization.models import FeedConfig, TopicAffinity, UserMarketState, UserProfile
from personalization.ranking.affinity import HALF_LIFE, decayed
from personalization.ranking.config import GROUPS, PARAMS
from personalization.ranking.features import COMPONENTS
from personalization.services import feed_build
from tracking.models import Impression, Interaction


@admin.register(UserProfile)
class UserProfileAdmin(ExactSearchMixin, ReadOnlyAdmin):
    list_display = (
        "user_key",
        "geo_country",
        "last_active_at",
        "session_started_at",
        "total_interactions",
        "total_impressions",
        "created_at",
    )
    list_filter = (recent_filter("last_active_at", "last active"),)
    exact_search_fields = ("user_key",)
    sortable_by = ("last_active_at",)
    readonly_fields = ("related",)

    @admin.display(description="related rows")
    def related(self, obj):
        links = [
            changelist_link(TopicAffinity, "Affinities", q=obj.user_key),
            changelist_link(UserMarketState, "Market states", q=obj.user_key),
            changelist_link(Interaction, "Interactions", q=obj.user_key),
            changelist_link(Impression, "Impressions", q=obj.user_key),
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))


@admin.register(TopicAffinity)
class TopicAffinityAdmin(ExactSearchMixin, ReadOnlyAdmin):
    list_display = ("user_key", "horizon", "topic_type", "topic_value", "score", "value_now", "updated_at")
    list_filter = ("horizon", "topic_type", recent_filter("updated_at", "updated"))
    exact_search_fields = ("user_key",)
    sortable_by = ("updated_at",)
    readonly_fields = ("value_now",)

    @admin.display(description="value now")
    def value_now(self, obj):
        # `score` is the value at updated_at (lazy decay); this is what ranking sees now.
        half_life = HALF_LIFE.get(obj.horizon)
        if half_life is None:
            return "-"
        return f"{decayed(obj.score, obj.updated_at, timezone.now(), half_life):+.3f}"


@admin.register(UserMarketState)
class UserMarketStateAdmin(ExactSearchMixin, ReadOnlyAdmin):
    list_display = (
        "user_key",
        "market_column",
        "impressions_total",
        "first_shown_at",
        "last_shown_at",
        "last_positive_at",
        "last_negative_at",
        "hidden",
        "updated_at",
    )
    list_filter = ("hidden", recent_filter("last_shown_at", "last shown"))
    exact_search_fields = ("user_key",)
    market_search_field = "market"
    market_column = staticmethod(market_column)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("market")


@admin.register(FeedConfig)
class FeedConfigAdmin(admin.ModelAdmin):
    """Every save creates the next version of the surface; the edited version is never modified."""

    form = FeedConfigForm
    list_display = ("surface", "version", "is_active", "quotas_summary", "note", "created_by", "created_at")
    list_display_links = ("surface", "version")
    list_filter = ("surface", "is_active")
    list_select_related = ("created_by",)
    search_fields = ("note",)
    date_hierarchy = "created_at"
    ordering = ("surface", "-version")
    actions = ("activate_selected",)
    VERSION_FIELDS = ("surface", "version", "is_active", "created_by", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")

    def get_urls(self):
        preview = path("preview/", self.admin_site.admin_view(self.preview_view), name="personalization_feed_preview")
        return [preview, *super().get_urls()]

    def preview_view(self, request):
        """The feed a user would get, with each item's pool, reason and score components, and what was left out."""
        form = FeedPreviewForm(request.GET or None)
        context = {**self.admin_site.each_context(request), "title": "Preview a user's feed", "form": form,
                   "opts": self.model._meta}
        if form.is_valid():
            data = form.cleaned_data
            result = feed_build(
                user_key=data["user_key"], surface=data["surface"], limit=data["limit"],
                country=data["country"] or "", now=data["at"] or timezone.now(),
            )
            catalog = result.catalog
            context.update(
                result=result,
                items=[(item, catalog.market_id[item.index], catalog.title[item.index],
                        catalog.categories[catalog.category[item.index]]) for item in result.ranking.items],
                component_names=COMPONENTS,
                filtered=[(catalog.market_id[i], catalog.title[i], rule)
                          for i, rule in sorted(result.ranking.filtered.items(), key=lambda kv: kv[1])],
            )
        return TemplateResponse(request, "admin/personalization/feed_preview.html", context)

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            # View-only users get the values as a table (the number fields have no model attribute to show).
            return [(None, {"fields": (*self.VERSION_FIELDS, "note", "params_table")})]
        if obj is None:
            head = (
                None,
                {
                    "fields": ("surface", "note"),
                    "description": "Saved as the next version of the surface; it becomes active only "
                    "if the surface has no active version (otherwise use “Activate selected version”).",
                },
            )
        else:
            outcome = (
                "and the new version becomes the active one"
                if obj.is_active
                else "inactive; activate it from the list with “Activate selected version”"
            )
            head = (
                None,
                {
                    "fields": (*self.VERSION_FIELDS, "note"),
                    "description": f"Saving does not change version {obj.version}: it creates the next "
                    f"version of “{obj.surface}” with the values below, {outcome}.",
                },
            )
        return [head, *param_fieldsets()]

    def get_readonly_fields(self, request, obj=None):
        return (*self.VERSION_FIELDS, "params_table") if obj is not None else ()

    @admin.display(description="parameters")
    def params_table(self, obj):
        params = obj.params if isinstance(obj.params, dict) else {}
        rows = []
        for group in GROUPS:
            rows.append(format_html('<tr><th colspan="2">{}</th></tr>', GROUP_TITLES.get(group, group)))
            values = params.get(group) if isinstance(params.get(group), dict) else {}
            rows.extend(
                format_html("<tr><td>{}</td><td>{}</td></tr>", param_label(p), values.get(p.name, "-"))
                for p in PARAMS
                if p.group == group
            )
        return format_html("<table>{}</table>", format_html_join("", "{}", ((row,) for row in rows)))

    def has_delete_permission(self, request, obj=None):
        return False  # the version history is the audit trail of what was served

    def save_model(self, request, obj, form, change):
        if change and not form.has_changed():
            request._feed_config_outcome = f"Nothing changed: no new version was created, {obj} is as it was."
            return
        if change:
            surface, activate = obj.surface, obj.is_active
        else:
            surface = form.cleaned_data["surface"]
            activate = not FeedConfig.objects.filter(surface=surface, is_active=True).exists()
        edited = str(obj) if change else None
        new = feed_config_save_version(
            surface=surface,
            params=form.cleaned_params,
            note=form.cleaned_data.get("note", ""),
            created_by=request.user,
            activate=activate,
        )
        # The admin's log entry and redirect must name the new version, not the edited one.
        for field in obj._meta.concrete_fields:
            setattr(obj, field.attname, getattr(new, field.attname))
        obj._state.adding = False
        request._feed_config_outcome = f"Saved {obj}." + (f" {edited} is kept unchanged." if edited else "")

    def response_change(self, request, obj):
        self.message_user(request, request._feed_config_outcome, messages.SUCCESS)
        opts = self.opts
        if "_continue" in request.POST:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=(obj.pk,))
        elif "_addanother" in request.POST:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        else:
            return self.response_post_save_change(request, obj)
        preserved = {"preserved_filters": self.get_preserved_filters(request), "opts": opts}
        return HttpResponseRedirect(add_preserved_filters(preserved, url))

    @admin.action(description="Activate selected version", permissions=["change"])
    def activate_selected(self, request, queryset):
        configs = list(queryset)
        surfaces = [config.surface for config in configs]
        repeated = sorted({surface for surface in surfaces if surfaces.count(surface) > 1})
        if repeated:
            self.message_user(
                request,
                f"Select one version per surface: several were selected for {', '.join(repeated)}. "
                "Nothing was activated.",
                messages.ERROR,
            )
            return
        for config in configs:
            feed_config_activate(config=config)
        activated = ", ".join(f"{config.surface} v{config.version}" for config in configs)
        self.message_user(request, f"Activated {activated}.", messages.SUCCESS)

    @admin.display(description="quotas")
    def quotas_summary(self, obj):
        quotas = obj.params.get("quotas", {}) if isinstance(obj.params, dict) else {}
        return " · ".join(f"{name} {value:g}" for name, value in quotas.items() if isinstance(value, (int, float)))
