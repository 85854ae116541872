from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from feedproject.fields import CleanCharField
from markets.models import Event, Market


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["event_id", "title", "slug", "series"]


class MarketSerializer(serializers.ModelSerializer):
    tags = serializers.SerializerMethodField()
    event = EventSerializer(read_only=True, allow_null=True, help_text="The event the market is one outcome of.")

    class Meta:
        model = Market
        fields = [
            "market_id", "title", "description", "category", "tags", "event", "probability", "volume_24h",
            "volume_total", "participant_count", "image_url", "status", "created_at", "resolution_date",
            "event_start_at", "news_at", "editorial_description",
        ]

    def get_tags(self, market) -> list[str]:
        return [t.label for t in market.tags.all()]


class EventSiblingSerializer(serializers.Serializer):
    market_id = serializers.CharField()
    title = serializers.CharField()
    probability = serializers.FloatField()
    status = serializers.ChoiceField(choices=Market.Status.choices)


class MarketDetailSerializer(MarketSerializer):
    """One market with its event's other outcomes, given as `event_siblings` in the context
    (markets.selectors.event_siblings: likeliest first, at most 50)."""

    event_siblings = serializers.SerializerMethodField()

    class Meta(MarketSerializer.Meta):
        fields = [*MarketSerializer.Meta.fields, "event_siblings"]

    @extend_schema_field(EventSiblingSerializer(many=True))
    def get_event_siblings(self, market):
        return EventSiblingSerializer(self.context["event_siblings"], many=True).data


class MarketStateSerializer(serializers.Serializer):
    """What the trading backend may push. Everything else about a market is editorial."""

    probability = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    volume_24h = serializers.FloatField(min_value=0.0, required=False)
    volume_total = serializers.FloatField(min_value=0.0, required=False)
    participant_count = serializers.IntegerField(min_value=0, required=False)
    status = serializers.ChoiceField(choices=Market.Status.choices, required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({k: "cannot be changed through this endpoint" for k in unknown})
        return super().to_internal_value(data)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send at least one of: " + ", ".join(self.fields))
        return attrs


class MarketListQuerySerializer(serializers.Serializer):
    """The filters of GET /api/markets. Empty values mean no filter, as before; limit/offset belong to the paginator."""

    status = serializers.ChoiceField(choices=Market.Status.choices, required=False, allow_blank=True)
    category = CleanCharField(max_length=64, required=False, allow_blank=True)
    tag = CleanCharField(max_length=120, required=False, allow_blank=True, help_text="Tag slug.")
    q = CleanCharField(max_length=200, required=False, allow_blank=True, help_text="Words in the title.")
