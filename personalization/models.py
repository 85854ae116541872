"""What the service knows about each user, and the editors' feed configurations, ranking models and experiments."""
import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from feedproject.vocabulary import Surface, choices
from markets.models import Market


class UserProfile(models.Model):
    user_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_active_at = models.DateTimeField(null=True, blank=True)
    session_started_at = models.DateTimeField(null=True, blank=True)
    total_interactions = models.PositiveIntegerField(default=0)
    total_impressions = models.PositiveIntegerField(default=0)
    geo_country = models.CharField(max_length=2, blank=True)
    category_dwell = models.JSONField(
        default=dict, blank=True, help_text='Per category: {"count": n, "total_ms": sum} of reported dwell.'
    )

    class Meta:
        indexes = [models.Index(fields=["last_active_at"], name="profile_last_active")]

    def __str__(self):
        return self.user_key


class TopicAffinity(models.Model):
    """A user's signed interest in a category or tag; `score` is its value at `updated_at` (lazy decay)."""

    class Horizon(models.TextChoices):
        LONG = "long"
        SESSION = "session"

    class TopicType(models.TextChoices):
        CATEGORY = "category"
        TAG = "tag"

    user_key = models.CharField(max_length=64)
    horizon = models.CharField(max_length=8, choices=Horizon.choices)
    topic_type = models.CharField(max_length=8, choices=TopicType.choices)
    topic_value = models.CharField(max_length=120)
    score = models.FloatField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "topic affinities"
        constraints = [
            models.UniqueConstraint(
                fields=["user_key", "horizon", "topic_type", "topic_value"], name="affinity_unique_topic"
            ),
        ]
        indexes = [models.Index(fields=["updated_at"], name="affinity_updated")]

    def __str__(self):
        return f"{self.user_key} {self.horizon} {self.topic_type}:{self.topic_value} {self.score:+.2f}"


class UserMarketState(models.Model):
    """One row per user and market ever shown or touched: caps, fatigue and re-show read it."""

    user_key = models.CharField(max_length=64)
    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="user_states")
    first_shown_at = models.DateTimeField(null=True, blank=True)
    last_shown_at = models.DateTimeField(null=True, blank=True)
    impressions_total = models.PositiveIntegerField(default=0)
    probability_at_last_shown = models.FloatField(null=True, blank=True)
    volume_24h_at_last_shown = models.FloatField(null=True, blank=True)
    last_positive_at = models.DateTimeField(null=True, blank=True)
    last_negative_at = models.DateTimeField(null=True, blank=True)
    last_rejected_at = models.DateTimeField(
        null=True, blank=True, help_text="Last hide or not_interested: its near-duplicates are lowered too."
    )
    hidden = models.BooleanField(default=False)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_key", "market"], name="user_market_unique")]

    def __str__(self):
        return f"{self.user_key}/{self.market_id}"


class FeedConfig(models.Model):
    """One version of the ranking parameters of a surface. Saving makes a new version."""

    surface = models.CharField(max_length=32, choices=choices(Surface))
    version = models.PositiveIntegerField()
    is_active = models.BooleanField(default=False)
    params = models.JSONField(help_text="Weights, quotas, caps, re-show, diversity and exploration settings.")
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["surface", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["surface", "version"], name="feedconfig_surface_version"),
            models.UniqueConstraint(
                fields=["surface"], condition=Q(is_active=True), name="feedconfig_one_active_per_surface"
            ),
        ]

    def __str__(self):
        return f"{self.surface} v{self.version}{' (active)' if self.is_active else ''}"


class RankingModel(models.Model):
    """One fitted version of the learned ranker (personalization/ranking/learned.py), with how it scored.

    Versioned like FeedConfig: training makes a new version and never edits one; at most one is
    active, and a FeedConfig whose ranker is "learned model" ranks with it. Activating an older
    version is the rollback.
    """

    class Status(models.TextChoices):
        READY = "ready", "ready to serve"
        TOO_LITTLE_DATA = "too_little_data", "too little data"

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it is not ready, or why it was not activated.")
    is_active = models.BooleanField(default=False)
    trained_at = models.DateTimeField(help_text="The time the training ran as of (its clock).")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    trigger = models.CharField(max_length=16, help_text="nightly, admin, command or demo.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    activated_at = models.DateTimeField(null=True, blank=True)
    report = models.JSONField(
        default=dict, help_text="Rows, and per outcome: positives, held-out AUC and log loss beside the formula's "
        "AUC on the same rows, and the calibration table."
    )
    payload = models.JSONField(default=dict, help_text="What serving reads: features, coefficients, outcome mixes.")

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="rankingmodel_one_active"),
        ]

    def __str__(self):
        return f"ranking model v{self.version}{' (active)' if self.is_active else ''}"


def _new_salt():
    return secrets.token_hex(8)


class Experiment(models.Model):
    """Two or more arms (feed config versions or ranking models) tried on shares of a surface's traffic.

    A user's arm is a hash of (salt, user_key): the same on every request, and independent of
    any other experiment's (each has its own salt). At most one experiment runs per surface at a
    time (docs/experiments.md). Changes of status go through personalization/experiments.py,
    which logs each as an ExperimentChange.
    """

    class Status(models.TextChoices):
        DRAFT = "draft"
        RUNNING = "running"
        STOPPED = "stopped"
        PROMOTED = "promoted"

    class Mode(models.TextChoices):
        AB = "ab", "A/B: each user sees one arm"
        INTERLEAVE = "interleave", "team-draft interleaving of two arms in one feed"

    name = models.CharField(max_length=120)
    surface = models.CharField(max_length=32, choices=choices(Surface), default=Surface.HOME)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.AB)
    salt = models.CharField(max_length=32, default=_new_salt, help_text="Mixed into the user hash; a new salt "
                            "reshuffles who gets which arm.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Per-arm metrics from the served log, with "
                               "intervals, the sample-ratio check and the verdict; refreshed by beat.")
    metrics_at = models.DateTimeField(null=True, blank=True, help_text="The time the metrics were computed as of.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="experiment_window_ordered"),
            models.UniqueConstraint(
                fields=["surface"], condition=Q(status="running"), name="experiment_one_running_per_surface"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.surface}, {self.status})"


class ExperimentArm(models.Model):
    """One arm: a feed config version of the experiment's surface (empty: the active one), and a
    ranking model (empty: whatever the config asks for)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    name = models.SlugField(max_length=32, help_text='Short and stable, e.g. "control", "model-v7".')
    feed_config = models.ForeignKey(
        FeedConfig, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Empty: the surface's active config when the feed is built.",
    )
    ranking_model = models.ForeignKey(
        RankingModel, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Empty: the formula or the active model, as the config says.",
    )
    share = models.FloatField(
        default=0.5, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="This arm's share of the experiment's users (shares are normalised to sum to 1).",
    )

    class Meta:
        ordering = ["experiment", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="experimentarm_name_unique"),
            models.CheckConstraint(condition=Q(share__gt=0.0) & Q(share__lte=1.0), name="experimentarm_share_range"),
        ]

    def __str__(self):
        return self.name


class ExperimentChange(models.Model):
    """Who changed an experiment's status, and when: started, stopped, promoted (with what)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=16)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["experiment", "at", "pk"]

    def __str__(self):
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M}"


class DashboardSnapshot(models.Model):
    """The live dashboard as of one run of its beat task (personalization/dashboard.py): the figures and
    their charts, so a page view reads one row and computes nothing."""

    computed_at = models.DateTimeField(db_index=True)
    data = models.JSONField(default=dict)
    charts = models.JSONField(default=dict, help_text="name -> SVG text, drawn when the figures were computed.")

    class Meta:
        ordering = ["-computed_at"]
        get_latest_by = "computed_at"
        verbose_name = "live dashboard"
        verbose_name_plural = "live dashboard"

    def __str__(self):
        return f"dashboard as of {self.computed_at:%Y-%m-%d %H:%M}"


class MarketCoengagement(models.Model):
    """What the users of one market also engaged with (ranking/related.py), as the beat last computed it
    for a market with many engagers: the related surface reads this row instead of summing thousands of
    engagements per request (personalization.coengagement_refresh)."""

    market = models.OneToOneField(Market, on_delete=models.CASCADE, primary_key=True, related_name="+")
    computed_at = models.DateTimeField()
    engagers = models.PositiveIntegerField(help_text="The users of the market's latest engagements that were read.")
    pairs = models.JSONField(default=list, help_text="[[market pk, decayed weight], ...], heaviest first.")

    class Meta:
        verbose_name_plural = "market co-engagement"

    def __str__(self):
        return f"co-engagement of market {self.market_id} as of {self.computed_at:%Y-%m-%d %H:%M}"
