"""Admin for what the service knows about users (read-only), the editors' feed configs, the learned ranker and
experiments."""
import uuid

from django.contrib import admin, messages
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from feedproject.admin_kit import ExactSearchMixin, ReadOnlyAdmin, changelist_link, market_column, recent_filter
from personalization.experiments import experiment_problems, experiment_promote, experiment_start, experiment_stop
from personalization.feed_configs import feed_config_activate, feed_config_save_version
from personalization.forms import GROUP_TITLES, FeedConfigForm, FeedPreviewForm, param_fieldsets, param_label
from personalization.models import (
    DashboardSnapshot,
    Experiment,
    ExperimentArm,
    ExperimentChange,
    FeedConfig,
    RankingModel,
    TopicAffinity,
    UserMarketState,
    UserProfile,
)
from personalization.ranking.affinity import HALF_LIFE, decayed
from personalization.ranking.compose import cold_start_quotas
from personalization.ranking.config import GROUPS, LEARNED, PARAMS
from personalization.ranking.features import contributions
from personalization.ranking.params import FeedParams
from personalization.services import feed_build
from personalization.tasks import ranking_model_train_now
from personalization.training import ranking_model_activate, ranking_model_deactivate
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

    class Media:
        js = ("personalization/feed_config_form.js",)
        css = {"all": ("personalization/dashboard.css",)}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")

    def get_urls(self):
        preview = path("preview/", self.admin_site.admin_view(self.preview_view), name="personalization_feed_preview")
        return [preview, *super().get_urls()]

    def preview_view(self, request):
        """The feed a user would get: each item's slot and why, its score and the components that made it,
        and what was left out. The same feed on every reload unless a new draw is asked for."""
        form = FeedPreviewForm(request.GET or None)
        context = {**self.admin_site.each_context(request), "title": "Preview a user's feed", "form": form,
                   "opts": self.model._meta}
        if form.is_valid():
            data = form.cleaned_data
            seed = None if data["new_draw"] else uuid.uuid5(PREVIEW_NAMESPACE, f"{data['user_key']}|{data['surface']}")
            result = feed_build(
                user_key=data["user_key"], surface=data["surface"], limit=data["limit"],
                country=data["country"] or "", now=data["at"] or timezone.now(), feed_request_id=seed,
            )
            catalog = result.catalog
            config = FeedConfig.objects.filter(surface=result.surface, version=result.config_version).first()
            params = FeedParams.from_dict(config.params if config else None)
            quotas = cold_start_quotas(params.quotas) if result.ranking.cold_start else params.quotas
            rows = [_preview_row(item, catalog, params, quotas, result.model_version) for item in result.ranking.items]
            if data["order"] == "score":
                rows.sort(key=lambda row: -row["item"].score)
            context.update(
                result=result, rows=rows, learned=result.model_version is not None,
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
        edited = f"{obj.surface} v{obj.version}" if change else None
        was_active = change and obj.is_active
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
        if activate:
            self.log_change(request, new, f"Activated {new.surface} v{new.version} (saved as the active version).")
        kept = f" {edited} is kept unchanged{', no longer active' if was_active else ''}." if edited else ""
        request._feed_config_outcome = f"Saved {obj}.{kept}"

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
            self.log_change(request, config, f"Activated {config.surface} v{config.version}.")
        activated = ", ".join(f"{config.surface} v{config.version}" for config in configs)
        self.message_user(request, f"Activated {activated}.", messages.SUCCESS)

    @admin.display(description="quotas")
    def quotas_summary(self, obj):
        quotas = obj.params.get("quotas", {}) if isinstance(obj.params, dict) else {}
        return " · ".join(f"{name} {value:g}" for name, value in quotas.items() if isinstance(value, (int, float)))


PREVIEW_NAMESPACE = uuid.UUID("6f1c2b9e-3f64-4c55-9d1e-2b8a7c0d5e11")
POOL_WORDS = {
    "personal": "personal: what the user is known to like", "trending_local": "trending in the user's country",
    "trending_global": "trending everywhere", "exploration": "exploration: a category new to the user",
    "editorial": "an editor's boost",
}


def _preview_row(item, catalog, params, quotas, model_version):
    """One preview row: the item, its market, why it has its slot, and its largest signed contributions."""
    share = quotas.get(item.pool, 0)
    why = f"{POOL_WORDS.get(item.pool, item.pool)}, " + (
        f"{share:.0%} of the slots" if share else "a slot another pool could not fill (its own quota is 0 here)"
    )
    if item.reason == "followup":
        why = "re-shown: it changed enough since the user last saw it; " + why
    if item.propensity is not None:
        why += f"; drawn with chance {item.propensity:.1%}"
    if item.pool == "editorial" and item.components.get("editorial", 0) > 0 and item.position in _pins(catalog, item):
        why = f"an editor's pin at position {item.position}"
    if model_version is not None:
        parts = {f"P({k[2:]})": v for k, v in item.components.items() if k.startswith("p_")}
        top = sorted(parts.items(), key=lambda kv: -abs(kv[1]))
    else:
        parts = contributions(item.components, params)
        top = sorted(((k, v) for k, v in parts.items() if abs(v) >= 5e-4), key=lambda kv: -abs(kv[1]))[:4]
    return {"item": item, "market_id": catalog.market_id[item.index], "title": catalog.title[item.index],
            "category": catalog.categories[catalog.category[item.index]], "why": why, "top": top,
            "all": sorted(item.components.items())}


def _pins(catalog, item):
    b = catalog.boosts
    return {int(slot) for k, slot in enumerate(b.pinned_slot) if slot >= 0 and int(b.index[k]) == item.index}


def _auc(value):
    return "-" if value is None else f"{value:.3f}"


def serving_summary():
    """One sentence for the editors: which ranker serves each surface, and why the formula does where it does."""
    active = RankingModel.objects.filter(is_active=True).first()
    latest = RankingModel.objects.first()
    learned = sorted(
        surface for surface, params in FeedConfig.objects.filter(is_active=True).values_list("surface", "params")
        if isinstance(params, dict) and (params.get("ranker") or {}).get("model") == LEARNED
    )
    if not learned:
        return "The formula ranks every surface: no active feed config chooses the learned model (its “Ranker”)."
    where = ", ".join(learned)
    if active is not None:
        return f"{active} ranks the personal pool of {where}; other surfaces use the formula."
    why = f"the latest, v{latest.version}, is {latest.get_status_display()}: {latest.reason}" if latest else (
        "none has been trained yet")
    return f"The formula ranks {where} although its config asks for the learned model: no version is active ({why})."


@admin.register(RankingModel)
class RankingModelAdmin(admin.ModelAdmin):
    """Versions of the learned ranker: how each did on held-out rows beside the formula, activation and rollback."""

    list_display = ("version", "status", "is_active", "trained_at", "trigger", "rows", "click_auc", "engage_auc",
                    "reject_auc", "reason")
    list_filter = ("status", "is_active", "trigger")
    actions = ("activate_selected", "deactivate_all")
    fields = ("version", "status", "reason", "is_active", "activated_at", "trained_at", "window_start",
              "window_end", "trigger", "created_by", "outcomes_table", "calibration_tables", "coefficients_table")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # versions come from training

    def has_delete_permission(self, request, obj=None):
        return False  # the history is the record of what ranked

    def has_change_permission(self, request, obj=None):
        return False  # read-only pages; activation is an action

    def get_urls(self):
        train = path("train/", self.admin_site.admin_view(self.train_view), name="personalization_rankingmodel_train")
        return [train, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "serving_summary": serving_summary()})

    def train_view(self, request):
        if request.method != "POST" or not request.user.has_perm("personalization.add_rankingmodel"):
            messages.error(request, "Training needs a POST from a user who may add ranking models.")
        else:
            ranking_model_train_now.delay(request.user.pk)
            messages.success(
                request, "Training started in the worker; the new version appears here when it finishes "
                "(a minute or so). It is activated only if it is at least as good as the formula on held-out rows.",
            )
        return HttpResponseRedirect(reverse("admin:personalization_rankingmodel_changelist"))

    def _outcome(self, obj, outcome):
        return (obj.report or {}).get("outcomes", {}).get(outcome, {})

    @admin.display(description="rows (train / held out)")
    def rows(self, obj):
        rows = (obj.report or {}).get("rows", {})
        return f"{rows.get('train', 0):,} / {rows.get('held_out', 0):,}"

    def _auc_pair(self, obj, outcome):
        entry = self._outcome(obj, outcome)
        if "auc" not in entry:
            return "-"
        return f"{_auc(entry['auc'])} (formula {_auc(entry.get('formula_auc'))})"

    @admin.display(description="click AUC")
    def click_auc(self, obj):
        return self._auc_pair(obj, "click")

    @admin.display(description="engage AUC")
    def engage_auc(self, obj):
        return self._auc_pair(obj, "engage")

    @admin.display(description="reject AUC")
    def reject_auc(self, obj):
        return self._auc_pair(obj, "reject")

    @admin.display(description="held-out results")
    def outcomes_table(self, obj):
        head = mark_safe(
            "<tr><th>outcome</th><th>positives (train / held out)</th><th>AUC</th><th>formula AUC</th>"
            "<th>log loss</th><th>base rate</th><th>note</th></tr>"
        )
        rows = []
        for outcome, entry in (obj.report or {}).get("outcomes", {}).items():
            positives = entry.get("positives", {})
            rows.append(format_html(
                "<tr><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                outcome, positives.get("train", 0), positives.get("held_out", 0), _auc(entry.get("auc")),
                _auc(entry.get("formula_auc")),
                "-" if entry.get("log_loss") is None else f"{entry['log_loss']:.4f}",
                "-" if entry.get("base_rate") is None else f"{entry['base_rate']:.2%}", entry.get("skipped", ""),
            ))
        return format_html("<table>{}{}</table>", head, format_html_join("", "{}", ((r,) for r in rows)))

    @admin.display(description="calibration (held out, by predicted P)")
    def calibration_tables(self, obj):
        parts = []
        for outcome, entry in (obj.report or {}).get("outcomes", {}).items():
            table = entry.get("calibration")
            if not table:
                continue
            rows = format_html_join(
                "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((f"{b['predicted']:.2%}", f"{b['observed']:.2%}", b["count"]) for b in table),
            )
            parts.append(format_html(
                "<h4>{}</h4><table><tr><th>mean predicted</th><th>observed</th><th>rows</th></tr>{}</table>",
                outcome, rows,
            ))
        return format_html_join("", "{}", ((p,) for p in parts)) if parts else "-"

    @admin.display(description="coefficients (per unit of each feature; position and pool at serving: the reference)")
    def coefficients_table(self, obj):
        payload = obj.payload or {}
        outcomes = list(payload.get("outcomes", {}))
        if not outcomes:
            return "-"
        head = format_html("<tr><th>feature</th>{}</tr>", format_html_join("", "<th>{}</th>", ((o,) for o in outcomes)))
        rows = format_html_join(
            "", "<tr><td>{}</td>{}</tr>",
            ((name, format_html_join("", "<td>{}</td>", ((f"{payload['outcomes'][o]['coef'][k]:+.3f}",)
                                                           for o in outcomes)))
             for k, name in enumerate(payload.get("features", []))),
        )
        return format_html("<table>{}{}</table>", head, rows)

    @admin.action(description="Activate selected version (rollback: activate an older one)", permissions=["activate"])
    def activate_selected(self, request, queryset):
        models_ = list(queryset)
        if len(models_) != 1:
            self.message_user(request, "Select exactly one version to activate. Nothing changed.", messages.ERROR)
            return
        try:
            ranking_model_activate(model=models_[0], now=timezone.now())
        except ValueError as error:
            self.message_user(request, f"{error}. Nothing changed.", messages.ERROR)
            return
        self.message_user(request, f"Activated {models_[0]}: it ranks wherever a config chooses the learned model.",
                          messages.SUCCESS)

    @admin.action(description="Deactivate the active version (the formula ranks everywhere)", permissions=["activate"])
    def deactivate_all(self, request, queryset):
        ranking_model_deactivate()
        self.message_user(request, "No ranking model is active: the formula ranks every surface.", messages.SUCCESS)

    def has_activate_permission(self, request):
        return request.user.has_perm("personalization.add_rankingmodel")


class ExperimentArmInline(admin.TabularInline):
    model = ExperimentArm
    extra = 2
    fields = ("name", "feed_config", "ranking_model", "share")

    def _draft(self, obj):
        return obj is None or obj.status == Experiment.Status.DRAFT

    def has_add_permission(self, request, obj=None):
        return self._draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._draft(obj) and super().has_delete_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "ranking_model":
            kwargs["queryset"] = RankingModel.objects.filter(status=RankingModel.Status.READY)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ExperimentChangeInline(admin.TabularInline):
    model = ExperimentChange
    fields = ("at", "action", "user", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "history (who changed its status, and when)"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    """Experiments on live traffic: arms are edited while a draft; start, stop and promote are buttons on
    its page, each logged in its history (personalization/experiments.py)."""

    list_display = ("name", "surface", "mode", "status", "starts_at", "ends_at", "arms_summary")
    list_filter = ("status", "surface", "mode")
    inlines = (ExperimentArmInline, ExperimentChangeInline)
    change_form_template = "admin/personalization/experiment/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        if obj is None or obj.status == Experiment.Status.DRAFT:
            return ("status", "problems")
        return ("name", "surface", "mode", "salt", "starts_at", "ends_at", "status", "created_by", "verdict",
                "metrics_table", "metrics_at")

    def get_fields(self, request, obj=None):
        fields = ["name", "surface", "mode", "starts_at", "ends_at", "salt", "note", "status"]
        if obj is not None and obj.status == Experiment.Status.DRAFT:
            fields.append("problems")
        elif obj is not None:
            fields[:0] = ["verdict", "metrics_table", "metrics_at"]
            fields.append("created_by")
        return fields

    @admin.display(description="verdict")
    def verdict(self, obj):
        metrics = obj.metrics or {}
        if not metrics:
            return "No metrics yet: they are computed every 15 minutes from the served log."
        alarm = metrics.get("srm", {}).get("alarm")
        css = "verdict-alarm" if alarm else "verdict"
        return format_html('<strong class="{}">{}</strong>', css, metrics["verdict"])

    @admin.display(description="metrics per arm (95% intervals)")
    def metrics_table(self, obj):
        arms = (obj.metrics or {}).get("arms") or []
        if not arms:
            return "—"

        def cell(interval, percent=False):
            if not interval or interval.get("value") is None:
                return "—"
            fmt = "{:.2%}" if percent else "{:.3f}"
            text = fmt.format(interval["value"])
            if interval.get("low") is not None:
                text += f" [{fmt.format(interval['low'])}, {fmt.format(interval['high'])}]"
            return text

        rows = format_html_join("", "<tr><td>{}</td>" + "<td>{}</td>" * 10 + "</tr>", (
            (a["name"], f"{a['share']:g}", a["users"], a["feeds"], a["impressions"], cell(a["ctr"], percent=True),
             cell(a["engaged_per_user"]), cell(a["bets_per_user"]), cell(a["hides_per_user"]),
             f"{a['repeat_feed_share']:.2%}", f"{a['coverage']:.1%}")
            for a in arms
        ))
        extra = ""
        srm = obj.metrics.get("srm")
        if srm:
            extra = format_html("<p>Sample ratio check: χ² = {}, p = {} ({}).</p>", srm["chi2"], srm["p"],
                                "ALARM: p < 0.001" if srm["alarm"] else "no mismatch")
        pref = obj.metrics.get("preference")
        if pref:
            extra = format_html(
                "<p>Interleaving: {} decided feeds won {}; first arm's share {} [{}, {}], p = {}.</p>",
                pref["feeds"], ", ".join(f"{k} {v}" for k, v in pref["wins"].items()), pref["share_first"],
                pref["low"], pref["high"], pref["p"],
            )
        header = ("arm", "share", "users", "feeds", "impressions", "CTR", "engaged / user", "bets / user",
                  "hides / user", "repeat feeds", "coverage")
        return format_html(
            '<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>{}',
            format_html_join("", "<th>{}</th>", ((h,) for h in header)), rows, extra,
        )

    def has_delete_permission(self, request, obj=None):
        # A draft may go; an experiment that served traffic is the record of what users were shown.
        return (obj is None or obj.status == Experiment.Status.DRAFT) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="arms")
    def arms_summary(self, obj):
        return " · ".join(
            f"{arm.name} {arm.share:g}: {arm.feed_config or 'active config'}"
            + (f" + {arm.ranking_model}" if arm.ranking_model_id else "")
            for arm in obj.arms.select_related("feed_config", "ranking_model")
        )

    @admin.display(description="before it can start")
    def problems(self, obj):
        found = experiment_problems(obj, list(obj.arms.select_related("feed_config", "ranking_model")))
        return "; ".join(found) if found else "Nothing: it can start."

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/start/", view(self.start_view), name="personalization_experiment_start"),
            path("<int:pk>/stop/", view(self.stop_view), name="personalization_experiment_stop"),
            path("<int:pk>/promote/<int:arm_pk>/", view(self.promote_view), name="personalization_experiment_promote"),
            *super().get_urls(),
        ]

    def _act(self, request, pk, act, done):
        experiment = Experiment.objects.filter(pk=pk).first()
        if experiment is None:
            raise Http404("No such experiment.")
        if request.method != "POST" or not self.has_change_permission(request, experiment):
            messages.error(request, "This needs a POST from a user who may change experiments.")
        else:
            try:
                act(experiment)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, done)
        return HttpResponseRedirect(reverse("admin:personalization_experiment_change", args=(pk,)))

    def start_view(self, request, pk):
        return self._act(request, pk, lambda e: experiment_start(experiment=e, user=request.user, now=timezone.now()),
                         "Started: its arms now serve their shares of the surface's users.")

    def stop_view(self, request, pk):
        return self._act(request, pk, lambda e: experiment_stop(experiment=e, user=request.user, now=timezone.now()),
                         "Stopped: everyone is served the surface's active config again.")

    def promote_view(self, request, pk, arm_pk):
        def promote(experiment):
            arm = experiment.arms.filter(pk=arm_pk).first()
            if arm is None:
                raise ValidationError("That arm is not one of this experiment's.")
            experiment_promote(experiment=experiment, arm=arm, user=request.user, now=timezone.now())
        return self._act(request, pk, promote, "Promoted: the arm's config and model now serve everyone.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        experiment = Experiment.objects.filter(pk=object_id).first()
        extra = {"experiment": experiment, "arms": list(experiment.arms.all()) if experiment else []}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


@admin.register(DashboardSnapshot)
class DashboardAdmin(admin.ModelAdmin):
    """The live dashboard: the latest snapshot the beat task computed (personalization/dashboard.py)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        snapshot = DashboardSnapshot.objects.order_by("-computed_at").first()
        data = snapshot.data if snapshot else {}
        recent = {d["day"] for d in data.get("days", [])[-3:]}  # the tables show the last three days
        context = {
            **self.admin_site.each_context(request), "title": "Live dashboard", "opts": self.model._meta,
            "snapshot": snapshot, "data": data, "charts": snapshot.charts if snapshot else {},
            "pools": POOLS_SHOWN, "pool_rows": _pivot(data.get("pool", []), "ctr", POOLS_SHOWN),
            "ranker_rows": [r for r in data.get("ranker", []) if r["day"] in recent],
            "surface_rows": [r for r in data.get("surface", []) if r["day"] in recent],
        }
        return TemplateResponse(request, "admin/personalization/dashboard.html", context)


POOLS_SHOWN = ("personal", "trending_local", "trending_global", "exploration", "editorial")


def _pivot(rows, value, names):
    """[(day, [value per name, None where absent])] of rows of (day, name, ...), newest day first."""
    table = {}
    for row in rows:
        table.setdefault(row["day"], {})[row["name"]] = row[value]
    return [(day, [values.get(name) for name in names]) for day, values in sorted(table.items(), reverse=True)]
