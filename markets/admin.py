"""Admin for the catalog: editors edit markets, their events, tags, boosts and category aliases;
snapshots and velocities are read-only."""

from django import forms
from django.contrib import admin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.html import format_html_join

from feedproject.admin_kit import (
    ExactSearchMixin,
    ReadOnlyAdmin,
    ScopeFilter,
    changelist_link,
    market_column,
    recent_filter,
)
from feedproject.vocabulary import Surface, choices
from markets.importers import CATEGORY_ALIASES, category_key
from markets.models import (
    CategoryAlias,
    EditorialBoost,
    Event,
    Market,
    MarketSnapshot,
    MarketVelocity,
    Tag,
    TrendingForecast,
)
from markets.services import catalog_version_bump, market_states_update
from markets.validation import StateUpdate

# --- Editors: tags, markets, events, boosts, category aliases --------------------------------


class TagUseFilter(admin.SimpleListFilter):
    title = "use"
    parameter_name = "used"

    def lookups(self, request, model_admin):
        return [("yes", "On at least one market"), ("no", "Unused")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(market_count__gt=0)
        if self.value() == "no":
            return queryset.filter(market_count=0)
        return queryset


class CatalogChangeMixin:
    """An editor's change reaches every process's in-memory catalog (personalization/selectors.py)."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        transaction.on_commit(catalog_version_bump)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        transaction.on_commit(catalog_version_bump)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        transaction.on_commit(catalog_version_bump)


@admin.register(Tag)
class TagAdmin(CatalogChangeMixin, admin.ModelAdmin):
    list_display = ("label", "slug", "market_count")
    search_fields = ("label", "slug")
    list_filter = (TagUseFilter,)
    prepopulated_fields = {"slug": ("label",)}
    ordering = ("label",)  # pages of an unordered changelist may repeat or skip tags

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(market_count=Count("markets"))

    @admin.display(description="markets", ordering="market_count")
    def market_count(self, obj):
        return obj.market_count


def boost_window_state(boost, now):
    """The boost's window at `now`: active while starts_at <= now < ends_at, else upcoming or expired."""
    if now < boost.starts_at:
        return "upcoming"
    if now >= boost.ends_at:
        return "expired"
    return "active"


def editorial_boost_stamp_creator(*, boost, user):
    """Record who created a boost; called by the admin on creation only."""
    boost.created_by = user


class EditorialBoostForm(forms.ModelForm):
    value = forms.FloatField(
        help_text="From -1 (bury the market) to 1 (push it hardest); 0 is neutral.",
        validators=[
            MinValueValidator(-1.0, message="The boost value must be between -1 and 1; %(show_value)s is below -1."),
            MaxValueValidator(1.0, message="The boost value must be between -1 and 1; %(show_value)s is above 1."),
        ],
        widget=forms.NumberInput(attrs={"step": "0.05", "min": "-1", "max": "1"}),
    )
    surfaces = forms.MultipleChoiceField(
        choices=choices(Surface),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unchecked for every surface.",
    )

    class Meta:
        model = EditorialBoost
        fields = ("market", "value", "starts_at", "ends_at", "surfaces", "pinned_slot", "note")

    def clean(self):
        cleaned = super().clean()
        starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", "The boost must end after it starts: “ends at” must be later than “starts at”.")
        return cleaned


class BoostWindowFilter(admin.SimpleListFilter):
    title = "window"
    parameter_name = "window"

    def lookups(self, request, model_admin):
        return [("active", "Active now"), ("upcoming", "Upcoming"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(starts_at__lte=now, ends_at__gt=now)
        if self.value() == "upcoming":
            return queryset.filter(starts_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(ends_at__lte=now)
        return queryset


class BoostDisplayMixin:
    @admin.display(boolean=True, description="active now")
    def is_active_now(self, obj):
        if obj.starts_at is None or obj.ends_at is None:  # an empty inline row
            return None
        return boost_window_state(obj, timezone.now()) == "active"

    @admin.display(description="surfaces")
    def surfaces_display(self, obj):
        return ", ".join(obj.surfaces) if obj.surfaces else "all"


class EditorialBoostInline(BoostDisplayMixin, admin.TabularInline):
    model = EditorialBoost
    form = EditorialBoostForm
    extra = 0
    fields = ("value", "starts_at", "ends_at", "is_active_now", "surfaces", "pinned_slot", "note", "created_by")
    readonly_fields = ("is_active_now", "created_by")
    ordering = ("-starts_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


@admin.register(Market)
class MarketAdmin(CatalogChangeMixin, admin.ModelAdmin):
    list_display = (
        "market_id",
        "title",
        "category",
        "status",
        "probability",
        "volume_24h",
        "participant_count",
        "tag_list",
        "created_at",
    )
    list_filter = ("status", "category", "resolution_date")
    search_fields = ("market_id", "title", "=tags__slug", "=event__event_id")
    search_help_text = "Market id or title contains; or a tag's or an event's exact id (slug)."
    date_hierarchy = "created_at"
    autocomplete_fields = ("tags", "event")
    inlines = (EditorialBoostInline,)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        (None, {"fields": ("market_id", "title", "category", "tags", "event", "status")}),
        (
            "Editorial",
            {
                "fields": (
                    "description",
                    "editorial_description",
                    "image_url",
                    "news_at",
                    "event_start_at",
                    "resolution_date",
                )
            },
        ),
        (
            "Trading state",
            {
                "description": "Pushed by the trading backend (which also writes a snapshot); read-only once created.",
                "fields": (
                    "probability", "volume_24h", "volume_total", "trades_24h", "participant_count", "state_at",
                    "created_at", "updated_at"
                ),
            },
        ),
        ("History", {"fields": ("history_links",)}),
    )
    # Server-owned once the market exists: the slug is what the API and the logs refer to,
    # and the trading numbers come with snapshots that an admin edit would not write.
    SERVER_OWNED = (
        "market_id", "probability", "volume_24h", "volume_total", "trades_24h", "participant_count", "created_at"
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # nothing to link to yet
            return self.fieldsets[:-1]
        return self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("updated_at", "state_at", "trades_24h")
        return ("updated_at", "state_at", "history_links") + self.SERVER_OWNED

    def save_model(self, request, obj, form, change):
        """An editor's status change is a state change like a push: through market_states_update, at now
        (a snapshot of it; history only if the backend has pushed a later state)."""
        if not (change and "status" in form.changed_data):
            super().save_model(request, obj, form, change)
            return
        status, obj.status = obj.status, form.initial["status"]
        super().save_model(request, obj, form, change)
        now = timezone.now()
        market_states_update(updates=[StateUpdate(obj.market_id, now, {"status": status})], now=now)
        obj.refresh_from_db(fields=["status", "state_at", "updated_at"])

    def get_changeform_initial_data(self, request):
        return {"created_at": timezone.now(), **super().get_changeform_initial_data(request)}

    def has_delete_permission(self, request, obj=None):
        # A market's delete cascades to its whole event history (and the confirmation page
        # would load it): close or resolve it instead.
        return False

    def save_formset(self, request, form, formset, change):
        if formset.model is EditorialBoost:
            for boost_form in formset.forms:
                if boost_form.instance.pk is None:
                    editorial_boost_stamp_creator(boost=boost_form.instance, user=request.user)
        super().save_formset(request, form, formset, change)

    @admin.display(description="tags")
    def tag_list(self, obj):
        return ", ".join(tag.label for tag in obj.tags.all())

    @admin.display(description="history")
    def history_links(self, obj):
        links = [
            changelist_link(MarketSnapshot, "Snapshots", q=obj.market_id),
            changelist_link(MarketVelocity, "Velocity", q=obj.market_id),
            changelist_link("tracking.MarketActivity", "Activity buckets", q=obj.market_id),
            changelist_link("tracking.Interaction", "Interactions", q=obj.market_id),
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))


@admin.register(EditorialBoost)
class EditorialBoostAdmin(CatalogChangeMixin, BoostDisplayMixin, admin.ModelAdmin):
    form = EditorialBoostForm
    list_display = (
        "market_column",
        "value",
        "starts_at",
        "ends_at",
        "is_active_now",
        "surfaces_display",
        "pinned_slot",
        "created_by",
        "note",
    )
    list_display_links = ("market_column",)
    list_filter = (BoostWindowFilter, ("created_by", admin.RelatedOnlyFieldListFilter), "starts_at")
    list_select_related = ("market", "created_by")
    search_fields = ("market__market_id", "market__title", "note")
    date_hierarchy = "starts_at"
    autocomplete_fields = ("market",)
    readonly_fields = ("is_active_now", "where_and_when", "created_by", "created_at")
    fields = (
        "market",
        "value",
        "starts_at",
        "ends_at",
        "is_active_now",
        "surfaces",
        "pinned_slot",
        "where_and_when",
        "note",
        "created_by",
        "created_at",
    )
    ordering = ("-starts_at",)

    @admin.display(description="where and when it shows")
    def where_and_when(self, obj):
        surfaces = ", ".join(obj.surfaces) if obj.surfaces else "every surface"
        window = f"from {obj.starts_at:%Y-%m-%d %H:%M} to {obj.ends_at:%Y-%m-%d %H:%M} UTC"
        if obj.pinned_slot is not None:
            what = f"At position {obj.pinned_slot} of the feed on {surfaces}, {window}."
        else:
            what = f"Its score {'raised' if obj.value > 0 else 'lowered'} by {abs(obj.value):.2f} × the editorial " \
                   f"weight on {surfaces}, {window}; positive boosts also fill the editorial pool's slots."
        return what + (" The caps still apply, pin or not: a visitor who was shown the market within the feed "
                       "config's cooldown (30 minutes by default), as often as its daily cap (3 by default), or "
                       "who hid it, does not get it, and the slot goes to the next item. A pin needs no score: "
                       "it takes its position whatever the market scores.")
    market_column = staticmethod(market_column)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("market", "created_by")

    def get_fields(self, request, obj=None):
        if obj is None:  # window state and authorship exist once the boost is saved
            return tuple(f for f in self.fields if f not in self.readonly_fields)
        return self.fields

    def save_model(self, request, obj, form, change):
        if not change:
            editorial_boost_stamp_creator(boost=obj, user=request.user)
        super().save_model(request, obj, form, change)


class EventSeriesFilter(admin.SimpleListFilter):
    """In a series or not, or one of the series with the most events (one GROUP BY, not a list of every series);
    any other series is found by searching its exact key."""

    title = "series"
    parameter_name = "series"
    SHOWN = 20
    NONE, ANY = "-", "*"

    def lookups(self, request, model_admin):
        top = (
            Event.objects.exclude(series="").values("series").annotate(events=Count("id"))
            .order_by("-events", "series")[: self.SHOWN]
        )
        return [(self.ANY, "In any series"), (self.NONE, "In no series"),
                *((row["series"], f"{row['series']} ({row['events']})") for row in top)]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.ANY:
            return queryset.exclude(series="")
        if value == self.NONE:
            return queryset.filter(series="")
        if value:
            return queryset.filter(series=value)
        return queryset


class EventMarketInline(admin.TabularInline):
    """An event's markets (its outcomes), likeliest first; each is edited on its own page."""

    model = Market
    fields = ("market_id", "title", "probability", "status", "category")
    readonly_fields = fields
    ordering = ("-probability", "market_id")
    extra = 0
    show_change_link = True
    can_delete = False
    verbose_name_plural = "markets (outcomes of this event)"

    def has_add_permission(self, request, obj=None):
        return False  # a market joins an event on its own page, or through an import


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("title", "event_id", "series", "market_count", "markets_link")
    search_fields = ("title", "event_id", "=series")
    search_help_text = "Title or event id contains; or a series' exact key."
    list_filter = (EventSeriesFilter,)
    ordering = ("title", "event_id")
    fields = ("event_id", "title", "slug", "series", "markets_link")
    inlines = (EventMarketInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(market_count=Count("markets"))

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("markets_link",)
        return ("event_id", "markets_link")  # the upsert key that importers find the event by

    def get_fields(self, request, obj=None):
        return self.fields if obj is not None else self.fields[:-1]

    @admin.display(description="markets", ordering="market_count")
    def market_count(self, obj):
        return obj.market_count

    @admin.display(description="in the market list")
    def markets_link(self, obj):
        return changelist_link(Market, "Markets", q=obj.event_id)


class CategoryAliasForm(forms.ModelForm):
    class Meta:
        model = CategoryAlias
        fields = ("label", "category")

    def clean_label(self):
        label = self.cleaned_data["label"].strip()
        key = category_key(label)
        if not key:
            raise forms.ValidationError("The label needs at least one letter or digit.")
        # Labels are matched by their key: "Economics" and " economics-" would be one alias.
        others = CategoryAlias.objects.exclude(pk=self.instance.pk).values_list("label", flat=True)
        clash = next((other for other in others if category_key(other) == key), None)
        if clash is not None:
            raise forms.ValidationError(f"“{clash}” is already this label (labels match ignoring case and dashes).")
        return label


@admin.register(CategoryAlias)
class CategoryAliasAdmin(admin.ModelAdmin):
    """Editors map a platform's category label onto the taxonomy; the next import reads the rows."""

    form = CategoryAliasForm
    list_display = ("label", "category", "default_mapping")
    list_display_links = ("label",)
    list_editable = ("category",)
    list_filter = ("category",)
    search_fields = ("label",)
    ordering = ("label",)

    @admin.display(description="built-in mapping")
    def default_mapping(self, obj):
        """What the label maps to without this row (markets/importers.py CATEGORY_ALIASES)."""
        default = CATEGORY_ALIASES.get(category_key(obj.label))
        if default is None:
            return "—"
        return default if default == obj.category else f"{default} (overridden)"


# --- Server-written catalog tables --------------------------------------------------------


@admin.register(MarketSnapshot)
class MarketSnapshotAdmin(ExactSearchMixin, ReadOnlyAdmin):
    list_display = ("market_column", "taken_at", "probability", "volume_24h", "volume_total", "participant_count")
    list_filter = (recent_filter("taken_at", "taken"),)
    market_search_field = "market"
    market_column = staticmethod(market_column)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("market")


@admin.register(MarketVelocity)
class MarketVelocityAdmin(ExactSearchMixin, ReadOnlyAdmin):
    list_display = (
        "market_column",
        "scope",
        "trending_score",
        "rising_score",
        "views_1h",
        "views_24h",
        "trades_24h",
        "unique_users_24h",
        "ctr_24h",
        "odds_change_1h",
        "odds_change_24h",
        "backend_volume_1h",
        "backend_volume_24h",
        "backend_trades_24h",
        "computed_at",
    )
    list_filter = (ScopeFilter, recent_filter("computed_at", "computed"))
    exact_search_fields = ("scope",)
    market_search_field = "market"
    # One row per market and scope (not a log): sorting the scores is what ops come for.
    ordering = ("scope", "-trending_score")
    sortable_by = ("scope", "trending_score", "rising_score", "computed_at")
    market_column = staticmethod(market_column)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("market")


@admin.register(TrendingForecast)
class TrendingForecastAdmin(ReadOnlyAdmin):
    """The daily fits of trending's forecast: which coefficients trending uses, and why (docs/pipeline.md)."""

    list_display = (
        "fitted_at", "used", *TrendingForecast.COEFFICIENTS, "days", "rows", "held_out_error",
        "reasoned_error", "note",
    )
    list_filter = ("used",)
