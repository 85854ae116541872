"""The market catalog: markets, their tags, their state history and editorial boosts."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.db.models import Q

from feedproject.vocabulary import CATEGORIES


def validate_image_url(value):
    """An http(s) URL, or an inline `data:image/...` URI (the demo catalog draws its own images)."""
    if value.startswith("data:image/"):
        return
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise ValidationError("Enter an http(s) URL or a data:image/ URI.", code="invalid") from None


class Tag(models.Model):
    slug = models.SlugField(max_length=120, unique=True)
    label = models.CharField(max_length=120)

    class Meta:
        ordering = ["label"]

    def __str__(self):
        return self.label


class Event(models.Model):
    """Markets that belong together on the source platform: the outcomes of one question (a
    Polymarket event, a Kalshi event, a PredictIt market), optionally part of a recurring series.

    `event_id` is the upsert key, prefixed by the platform ("polymarket-16282", "kalshi-kxnewpope-70",
    "predictit-7589"); `series` is a key too ("kalshi-kxhighny"), kept as a string: nothing reads a
    series beyond grouping by it (docs/market-import.md#events).
    """

    event_id = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=500)
    slug = models.SlugField(max_length=200, blank=True, help_text="The platform's readable slug, for links.")
    series = models.SlugField(
        max_length=200, blank=True, db_index=True, help_text="A recurring series this event is one of (daily, annual)."
    )

    def __str__(self):
        return self.title


class CategoryAlias(models.Model):
    """An editor's mapping of a platform's category label onto the site's taxonomy.

    Importers map labels through the defaults in markets/importers.py (CATEGORY_ALIASES) with
    these rows on top, so an editor can fix or add a mapping without a deploy.
    """

    label = models.CharField(
        max_length=64,
        unique=True,
        help_text="As a platform writes it; matched ignoring case and surrounding spaces or dashes.",
    )
    category = models.CharField(max_length=64, choices=[(name, name) for name in CATEGORIES])

    class Meta:
        verbose_name_plural = "category aliases"

    def __str__(self):
        return f"{self.label} → {self.category}"


class Market(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"
        RESOLVED = "resolved"

    market_id = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=64, db_index=True)
    tags = models.ManyToManyField(Tag, related_name="markets", blank=True)
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="markets")
    probability = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    volume_24h = models.FloatField(default=0.0, validators=[MinValueValidator(0.0)])
    volume_total = models.FloatField(default=0.0, validators=[MinValueValidator(0.0)])
    participant_count = models.PositiveIntegerField(default=0)
    trades_24h = models.PositiveIntegerField(
        default=0, help_text="Trades in the last 24 h on the trading backend, as it last pushed them."
    )
    image_url = models.CharField(max_length=2000, blank=True, validators=[validate_image_url])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    state_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the trading state above was true, on the sender's clock; a push older than this is "
                  "stored as history only (docs/market-state.md). Empty: never pushed with a time.",
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    resolution_date = models.DateTimeField(null=True, blank=True)
    event_start_at = models.DateTimeField(null=True, blank=True)
    news_at = models.DateTimeField(null=True, blank=True)
    editorial_description = models.TextField(blank=True)

    class Meta:
        ordering = ["-volume_24h", "market_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__gte=0.0) & Q(probability__lte=1.0),
                name="market_probability_0_1",
            ),
            models.CheckConstraint(
                condition=Q(volume_24h__gte=0.0) & Q(volume_total__gte=0.0),
                name="market_volumes_non_negative",
            ),
            models.CheckConstraint(condition=Q(status__in=["open", "closed", "resolved"]), name="market_status_valid"),
        ]

    def __str__(self):
        return self.title


# The trading state of a market: what the trading backend pushes, importers update and the demo
# rewinds. A change in any of them is a state change and gets a MarketSnapshot.
STATE_FIELDS = ("probability", "volume_24h", "volume_total", "trades_24h", "participant_count", "status")
# What a snapshot records of that state (status changes are kept on the market itself).
SNAPSHOT_FIELDS = ("probability", "volume_24h", "volume_total", "trades_24h", "participant_count")


class MarketSnapshot(models.Model):
    """The state of a market at one moment: source of odds changes and volume spikes."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField()
    probability = models.FloatField()
    volume_24h = models.FloatField()
    volume_total = models.FloatField()
    trades_24h = models.PositiveIntegerField(default=0)
    participant_count = models.PositiveIntegerField()

    @classmethod
    def of(cls, *, market_pk, taken_at, state):
        """The one builder of snapshot rows: `state` is a Market, or a mapping of SNAPSHOT_FIELDS."""
        # Sources that know no trade count (the demo's history, most importers) leave trades_24h at 0.
        if isinstance(state, dict):
            values = {name: state.get(name, 0) if name == "trades_24h" else state[name] for name in SNAPSHOT_FIELDS}
        else:
            values = {name: getattr(state, name, 0) if name == "trades_24h" else getattr(state, name)
                      for name in SNAPSHOT_FIELDS}
        return cls(market_id=market_pk, taken_at=taken_at, **values)

    class Meta:
        get_latest_by = "taken_at"
        constraints = [
            # One state per market and moment: a push sent twice is stored once, and two writers at
            # the same moment (a push and beat's refresh) keep one row (docs/market-state.md).
            models.UniqueConstraint(fields=["market", "taken_at"], name="snapshot_market_time_unique"),
            models.CheckConstraint(
                condition=Q(probability__gte=0.0) & Q(probability__lte=1.0),
                name="snapshot_probability_0_1",
            ),
        ]

    def __str__(self):
        return f"{self.market_id} @ {self.taken_at:%Y-%m-%d %H:%M}"


class EditorialBoost(models.Model):
    """An editor's push (or demotion) of a market, active only inside its window."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="boosts")
    value = models.FloatField(validators=[MinValueValidator(-1.0), MaxValueValidator(1.0)])
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    surfaces = models.JSONField(default=list, blank=True, help_text="Surfaces it applies to; empty means all.")
    pinned_slot = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="0-based feed position this market takes while the boost is active."
    )
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="boost_window")]
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=-1.0) & Q(value__lte=1.0), name="boost_value_range"),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="boost_window_ordered"),
        ]

    def __str__(self):
        # The market's slug, not its pk ("lebron-mvp +0.70"), when the market is at hand; no query for it.
        market = self.market.market_id if EditorialBoost.market.is_cached(self) else f"market #{self.market_id}"
        return f"{market} {self.value:+.2f}"


class MarketVelocity(models.Model):
    """How fast a market moves in one scope ("global" or a country code); rewritten by beat."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="velocities")
    scope = models.CharField(max_length=8)
    views_5m = models.PositiveIntegerField(default=0)
    views_1h = models.PositiveIntegerField(default=0)
    views_24h = models.PositiveIntegerField(default=0)
    trades_5m = models.PositiveIntegerField(default=0)
    trades_1h = models.PositiveIntegerField(default=0)
    trades_24h = models.PositiveIntegerField(default=0)
    unique_users_5m = models.PositiveIntegerField(default=0)
    unique_users_1h = models.PositiveIntegerField(default=0)
    unique_users_24h = models.PositiveIntegerField(default=0)
    engaged_users_24h = models.PositiveIntegerField(
        default=0, help_text="Distinct users with an engagement (not only an impression) in 24 h: local support."
    )
    # The trading backend's activity, from the pushed state history (MarketSnapshot): on the global row
    # only, 0 on country rows (the backend knows no country). docs/pipeline.md#backend-activity.
    backend_volume_5m = models.FloatField(default=0.0)
    backend_volume_1h = models.FloatField(default=0.0)
    backend_volume_24h = models.FloatField(default=0.0)
    backend_trades_5m = models.PositiveIntegerField(default=0)
    backend_trades_1h = models.PositiveIntegerField(default=0)
    backend_trades_24h = models.PositiveIntegerField(default=0)
    backend_daily_volume_7d = models.FloatField(
        default=0.0, help_text="Mean daily volume over the last 7 days of history (fewer for a younger market)."
    )
    ctr_24h = models.FloatField(default=0.0)
    odds_change_1h = models.FloatField(default=0.0)
    odds_change_24h = models.FloatField(default=0.0)
    participant_delta_24h = models.IntegerField(default=0)
    trending_score = models.FloatField(default=0.0)
    rising_score = models.FloatField(default=0.0)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "market velocities"
        constraints = [models.UniqueConstraint(fields=["market", "scope"], name="velocity_market_scope")]
        indexes = [models.Index(fields=["scope", "-trending_score"], name="velocity_scope_trending")]

    def __str__(self):
        return f"{self.market_id}/{self.scope}"


class TrendingForecast(models.Model):
    """One fit of trending's next-day volume forecast on the platform's own history (docs/pipeline.md#trending).

    Written by the daily `markets.trending_forecast_fit`; the newest row that is `used` and at most
    FORECAST_MAX_AGE old weighs the backend's terms in trending, else the reasoned coefficients do.
    """

    fitted_at = models.DateTimeField(db_index=True)
    used = models.BooleanField(help_text="Whether trending uses these coefficients (else the reasoned ones).")
    intercept = models.FloatField(null=True, blank=True)
    usual = models.FloatField(null=True, blank=True, help_text="Weight of ln(1 + the 7-day mean day).")
    day = models.FloatField(null=True, blank=True, help_text="Weight of ln(1 + the last 24 h volume).")
    deviation = models.FloatField(
        null=True, blank=True, help_text="Weight of the last hour's deviation from the day, by its evidence."
    )
    # The catalog's terms (markets.scores.trending_backend_terms); a row fitted before they existed has them
    # empty, and a used one weighs them 0, as it did.
    open_share = models.FloatField(
        null=True, blank=True, help_text="Weight of ln(the share of the next day the market is open until it closes)."
    )
    closing = models.FloatField(null=True, blank=True, help_text="Weight of 1 / (1 + days to the resolution date).")
    listing = models.FloatField(null=True, blank=True, help_text="Weight of 1 / (1 + days since listing).")
    days = models.PositiveIntegerField(help_text="Days of history (each with its next day) the fit saw.")
    rows = models.PositiveIntegerField(help_text="Market-days fitted: the busiest markets of each day.")
    held_out_error = models.FloatField(null=True, blank=True, help_text="Mean squared error in logs on the newest day.")
    reasoned_error = models.FloatField(null=True, blank=True, help_text="The reasoned forecast's, on the same rows.")
    note = models.CharField(max_length=200, blank=True)

    # In markets.scores.trending_forecast's order: the intercept, then trending_backend_terms' columns.
    COEFFICIENTS = ("intercept", "usual", "day", "deviation", "open_share", "closing", "listing")

    class Meta:
        ordering = ("-fitted_at",)

    def __str__(self):
        return f"trending forecast of {self.fitted_at:%Y-%m-%d %H:%M}"

    @property
    def coefficients(self):
        if not self.used:
            return None
        return tuple(0.0 if value is None else value for value in (getattr(self, name) for name in self.COEFFICIENTS))
