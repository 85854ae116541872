"""The raw event log (impressions, interactions, rejects), the served-feed log and per-market activity buckets.

These are the tables every event writes to, so their `market` keys carry no database
index and no database constraint of their own. Each table's composite index leads with
the market and answers every lookup by market; the market is checked by ingestion in
the same request, and deleting a market still deletes its rows through the ORM. Without
the constraint, PostgreSQL skips a key-share lock on the market row per written row,
checked at commit (docs/ingestion.md, "Write cost per event").
"""
from django.db import models

from feedproject.vocabulary import Section, choices
from markets.models import Market


class Impression(models.Model):
    event_id = models.UUIDField(unique=True)
    user_key = models.CharField(max_length=64)
    market = models.ForeignKey(
        Market, on_delete=models.CASCADE, related_name="impressions", db_index=False, db_constraint=False
    )
    feed_request_id = models.UUIDField(null=True, blank=True)
    surface = models.CharField(max_length=32, default="home")
    section = models.CharField(max_length=8, choices=choices(Section), blank=True)
    position = models.PositiveSmallIntegerField(null=True, blank=True)
    shown_at = models.DateTimeField(help_text="Client time corrected for clock skew.")
    received_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["user_key", "shown_at"], name="impression_user_time"),
            models.Index(fields=["market", "shown_at"], name="impression_market_time"),
            models.Index(fields=["shown_at"], name="impression_time"),
        ]

    def __str__(self):
        return f"{self.user_key} saw {self.market_id}"


class Interaction(models.Model):
    event_id = models.UUIDField(unique=True)
    user_key = models.CharField(max_length=64)
    market = models.ForeignKey(
        Market, on_delete=models.CASCADE, related_name="interactions", db_index=False, db_constraint=False
    )
    event_type = models.CharField(max_length=32)
    occurred_at = models.DateTimeField(help_text="Client time corrected for clock skew.")
    received_at = models.DateTimeField()
    dwell_ms = models.PositiveIntegerField(null=True, blank=True)
    section = models.CharField(max_length=8, choices=choices(Section), blank=True)
    position = models.PositiveSmallIntegerField(null=True, blank=True)
    geo_country = models.CharField(max_length=2, blank=True)
    feed_request_id = models.UUIDField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user_key", "occurred_at"], name="interaction_user_time"),
            models.Index(fields=["market", "occurred_at"], name="interaction_market_time"),
        ]
        permissions = [("act_for_any_user", "Can act for any user_key (service token)")]

    def __str__(self):
        return f"{self.user_key} {self.event_type} {self.market_id}"


class ServedItem(models.Model):
    """One item of a served feed, as the ranking placed it: what the feed's own logs learn from.

    Impressions and interactions join it on (feed_request_id, market). A feed asked for again with
    the same feed_request_id by the same caller on the same surface is replayed from these rows
    (personalization.services.feed_replay), and keeps its first record.
    """

    feed_request_id = models.UUIDField()
    market = models.ForeignKey(
        Market, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    user_key = models.CharField(max_length=64)
    surface = models.CharField(max_length=32)
    served_at = models.DateTimeField()
    config_version = models.PositiveIntegerField()
    model_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The learned ranking model that ranked it; empty for the formula."
    )
    position = models.PositiveSmallIntegerField()
    pool = models.CharField(max_length=16)
    reason = models.CharField(max_length=16)
    reason_text = models.CharField(
        max_length=200, blank=True, default="", help_text="The reason as the card said it; a replay says it again."
    )
    score = models.FloatField()
    components = models.JSONField(default=dict)
    propensity = models.FloatField(
        null=True, blank=True, help_text="The chance of a randomized pick (exploration); empty for a ranked one."
    )
    experiment_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="The experiment (personalization.Experiment) the feed was served in."
    )
    arm = models.CharField(
        max_length=32, blank=True, help_text="The experiment arm: the user's (A/B), or the arm that picked the item "
        "(interleaving)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed_request_id", "market"], name="served_request_market_unique"),
        ]
        indexes = [
            models.Index(fields=["served_at"], name="served_time"),
            models.Index(fields=["user_key", "served_at"], name="served_user_time"),
        ]

    def __str__(self):
        return f"{self.feed_request_id} #{self.position} {self.market_id}"


class RejectedEvent(models.Model):
    """An event that failed validation, kept whole for inspection."""

    received_at = models.DateTimeField()
    endpoint = models.CharField(max_length=32)
    user_key = models.CharField(max_length=64, blank=True)
    event_id = models.CharField(max_length=64, blank=True)
    field = models.CharField(max_length=64)
    reason = models.CharField(max_length=300)
    payload = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["received_at"], name="rejected_time")]

    def __str__(self):
        return f"{self.endpoint}: {self.field}: {self.reason}"


class MarketActivity(models.Model):
    """Counters of one market in one scope over one time bucket, keyed by the events' own time."""

    BUCKET_SECONDS = 300

    market = models.ForeignKey(
        Market, on_delete=models.CASCADE, related_name="activity", db_index=False, db_constraint=False
    )
    scope = models.CharField(max_length=8, help_text='"global" or an ISO country code.')
    bucket_start = models.DateTimeField()
    views = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    trades = models.PositiveIntegerField(default=0)
    impressions = models.PositiveIntegerField(default=0)
    engagements = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "market activity"
        constraints = [
            models.UniqueConstraint(fields=["market", "scope", "bucket_start"], name="activity_bucket_unique"),
        ]
        indexes = [models.Index(fields=["bucket_start", "scope"], name="activity_time_scope")]

    def __str__(self):
        return f"{self.market_id}/{self.scope}@{self.bucket_start:%H:%M}"


class MarketActivityUser(models.Model):
    """Who was active on a market in a bucket: distinct users are a set, not a summable counter."""

    market = models.ForeignKey(
        Market, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    scope = models.CharField(max_length=8)
    bucket_start = models.DateTimeField()
    user_key = models.CharField(max_length=64)
    engagements = models.PositiveIntegerField(
        default=0, help_text="The user's engagements in the bucket (0: only shown it): local trending's support."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["market", "scope", "bucket_start", "user_key"], name="activity_user_unique"
            ),
        ]
        indexes = [models.Index(fields=["bucket_start", "scope"], name="activity_user_time_scope")]
