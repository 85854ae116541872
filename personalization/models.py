"""What the service knows about each user, and the editors' feed configurations."""
from django.conf import settings
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
