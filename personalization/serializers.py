"""Request and response shapes of the feed API; the OpenAPI schema is generated from them.

GET /api/rank and /api/profile are rendered through their response serializers. GET /api/feed
builds its payload by hand (the serializer would cost more than a millisecond a feed), and
personalization/tests/test_feed_api.py checks that payload against FeedResponseSerializer.
"""
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from feedproject.api import anon_key_field
from feedproject.fields import (
    COUNTRY_PATTERN,
    CleanCharField,
    StrictSerializer,
    alias_resolved,
    score_field,
)
from feedproject.vocabulary import Section, Surface, choices
from markets.serializers import MarketItemSerializer
from personalization.ranking.caps import CAP_24H, COOLDOWN, FATIGUE, HIDDEN
from personalization.ranking.compose import POOLS

SURFACES = choices(Surface)
COUNTRY_HELP = "The visitor's country (ISO 3166 two letters, any case), for local trending."


def country_field():
    return serializers.RegexField(COUNTRY_PATTERN, required=False, help_text=COUNTRY_HELP)


def geo_alias_field():
    return serializers.RegexField(
        COUNTRY_PATTERN, required=False, help_text="Deprecated: the old name of `country`. Given with a different "
        "`country`, a 400 naming `country`.",
    )


@extend_schema_serializer(deprecate_fields=["geo"])
class FeedQuerySerializer(serializers.Serializer):
    surface = serializers.ChoiceField(choices=SURFACES, default="home")
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    country = country_field()
    geo = geo_alias_field()
    feed_request_id = serializers.UUIDField(
        required=False,
        help_text="Same id, same feed: a feed served under this id to this caller on this surface is replayed (the "
        "same markets in the same order, with the same reasons; their odds as they are now; `replayed` is true). "
        "An id served to another caller or surface is a 400; an id never served gives a new feed under it.",
    )
    debug = serializers.BooleanField(default=False, help_text="Staff only: also list the markets left out.")
    user_key = CleanCharField(max_length=64, required=False, help_text="Service tokens only.")
    category = CleanCharField(
        max_length=64, required=False,
        help_text="With surface=category (and only then): the category, e.g. Sports. A category with no open "
        "market gives an empty feed.",
    )

    market_id = CleanCharField(
        max_length=200, required=False,
        help_text="With surface=market_related (and only then): the market whose related markets are asked for; "
        "404 when it is not an open market.",
    )

    def validate(self, attrs):
        alias_resolved(attrs, "country", ("geo",))
        if attrs["surface"] == "market_related" and not attrs.get("market_id"):
            raise serializers.ValidationError({"market_id": ["Required with surface=market_related: related to what?"]})
        if attrs["surface"] != "market_related" and attrs.get("market_id"):
            raise serializers.ValidationError({"market_id": ["Only with surface=market_related."]})
        if attrs["surface"] == "category" and not attrs.get("category"):
            raise serializers.ValidationError({"category": ["Required with surface=category: which category?"]})
        if attrs["surface"] != "category" and attrs.get("category"):
            raise serializers.ValidationError({"category": ["Only with surface=category."]})
        return attrs


class ProfileQuerySerializer(serializers.Serializer):
    user_key = CleanCharField(max_length=64, required=False, help_text="Service tokens only.")


class FeedItemSerializer(MarketItemSerializer):
    """A market of the feed (any surface, related markets included): the market item and its place and reason."""

    position = serializers.IntegerField()
    section = serializers.ChoiceField(choices=[section.value for section in Section])
    pool = serializers.ChoiceField(
        choices=list(POOLS), help_text="The candidate pool it was drawn from; `reason` says followup instead "
        "when the market changed since the user last saw it.",
    )
    reason = serializers.ChoiceField(
        choices=["personal", "trending_local", "trending_global", "exploration", "editorial", "followup"]
    )
    reason_text = serializers.CharField()
    components = serializers.DictField(
        child=score_field(), required=False, help_text="Staff only."
    )


class FeedSectionsSerializer(serializers.Serializer):
    hero = FeedItemSerializer(many=True)
    grid = FeedItemSerializer(many=True)
    stream = FeedItemSerializer(many=True)


class FilteredMarketSerializer(serializers.Serializer):
    market_id = serializers.CharField()
    title = serializers.CharField()
    rule = serializers.ChoiceField(choices=[HIDDEN, FATIGUE, COOLDOWN, CAP_24H], help_text="The rule that left it out.")


class FeedResponseSerializer(serializers.Serializer):
    feed_request_id = serializers.UUIDField()
    user_key = serializers.CharField()
    anon_key = anon_key_field()
    generated_at = serializers.DateTimeField()
    degraded = serializers.BooleanField(help_text="True when a cached input could not be checked.")
    surface = serializers.CharField()
    config_version = serializers.IntegerField()
    model_version = serializers.IntegerField(
        allow_null=True, help_text="The learned ranking model that ranked this feed; null when the formula did."
    )
    replayed = serializers.BooleanField(
        help_text="True when this is a feed served before under feed_request_id, replayed from the served log."
    )
    sections = FeedSectionsSerializer()
    filtered = FilteredMarketSerializer(many=True, required=False, help_text="Staff with debug=1.")


@extend_schema_serializer(deprecate_fields=["geo"])
class RankRequestSerializer(StrictSerializer):
    market_ids = serializers.ListField(child=CleanCharField(max_length=200), min_length=1, max_length=500)
    surface = serializers.ChoiceField(choices=SURFACES, default="home")
    country = country_field()
    geo = geo_alias_field()
    user_key = CleanCharField(max_length=64, required=False, help_text="Service tokens only.")

    def validate(self, data):
        return alias_resolved(super().validate(data), "country", ("geo",))


class RankedSerializer(MarketItemSerializer):
    """A ranked market: the market item, its rank and score."""

    rank = serializers.IntegerField()
    score = score_field()
    left_out_by = serializers.CharField(allow_null=True, help_text="The cap that keeps it out of the feed, if any.")
    components = serializers.DictField(
        child=score_field(), required=False, help_text="Staff only."
    )


class RankResponseSerializer(serializers.Serializer):
    user_key = serializers.CharField()
    anon_key = anon_key_field()
    degraded = serializers.BooleanField()
    ranked = RankedSerializer(many=True)
    unknown = serializers.ListField(child=serializers.CharField(), help_text="Unknown, closed or resolved markets.")
    duplicates = serializers.ListField(
        child=serializers.CharField(), help_text="Ids sent more than once (each is ranked once), in first-seen order."
    )


class AffinitySerializer(serializers.Serializer):
    topic_type = serializers.ChoiceField(choices=["category", "tag"])
    topic = serializers.CharField()
    value = serializers.FloatField(help_text="Decayed to now; negative means dislike.")


class ProfileAffinitiesSerializer(serializers.Serializer):
    long = AffinitySerializer(many=True)
    session = AffinitySerializer(many=True)


class RecentEventSerializer(serializers.Serializer):
    market_id = serializers.CharField()
    event_type = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class ProfileResponseSerializer(serializers.Serializer):
    user_key = serializers.CharField()
    anon_key = anon_key_field()
    country = serializers.CharField(allow_blank=True)
    last_active_at = serializers.DateTimeField(allow_null=True)
    session_started_at = serializers.DateTimeField(allow_null=True)
    total_interactions = serializers.IntegerField()
    affinities = ProfileAffinitiesSerializer()
    recent = RecentEventSerializer(many=True, help_text="The last 50 interactions of 7 days.")
