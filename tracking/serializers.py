"""Shapes of the tracking API: one validated event, and the batch envelopes around it."""
from rest_framework import serializers

from personalization.ranking.affinity import EVENT_TYPES
from tracking.models import Section

SERVER_OWNED = frozenset({"received_at", "weight", "weights", "score", "affinity", "id", "pk", "hidden"})
COUNTRY = r"^[A-Za-z]{2}$"


class _EventSerializer(serializers.Serializer):
    """Common fields; unknown or server-owned keys are refused, not silently dropped."""

    event_id = serializers.UUIDField()
    market_id = serializers.CharField(max_length=200)
    sent_at = serializers.DateTimeField(required=False)
    section = serializers.ChoiceField(choices=Section.choices, required=False, allow_blank=True)
    position = serializers.IntegerField(min_value=0, max_value=10_000, required=False, allow_null=True)
    feed_request_id = serializers.UUIDField(required=False, allow_null=True)
    user_key = serializers.CharField(max_length=64, required=False, help_text="Service tokens only.")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            for key in data:
                if key in SERVER_OWNED:
                    raise serializers.ValidationError({key: "is set by the server and cannot be sent"})
                if key not in self.fields:
                    raise serializers.ValidationError({key: "is not a known field"})
        return super().to_internal_value(data)


class InteractionEventSerializer(_EventSerializer):
    event_type = serializers.ChoiceField(choices=sorted(EVENT_TYPES))
    occurred_at = serializers.DateTimeField()
    dwell_ms = serializers.IntegerField(min_value=0, max_value=86_400_000, required=False, allow_null=True)
    geo_country = serializers.RegexField(COUNTRY, required=False, allow_blank=True)
    surface = serializers.CharField(max_length=32, required=False)
    metadata = serializers.DictField(required=False)


class ImpressionEventSerializer(_EventSerializer):
    shown_at = serializers.DateTimeField()


class TrackBatchSerializer(serializers.Serializer):
    """Documentation of `POST /api/track`: one event object, or a batch under `events`."""

    events = InteractionEventSerializer(many=True, help_text="Up to 500 events.")
    sent_at = serializers.DateTimeField(required=False, help_text="Client clock when the batch was sent.")
    geo_country = serializers.RegexField(COUNTRY, required=False)


class ImpressionBatchSerializer(serializers.Serializer):
    feed_request_id = serializers.UUIDField(required=False, allow_null=True)
    surface = serializers.CharField(max_length=32, required=False)
    sent_at = serializers.DateTimeField(required=False)
    impressions = ImpressionEventSerializer(many=True, help_text="Up to 500 impressions.")


class EventResultSerializer(serializers.Serializer):
    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    field = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)


class IngestResponseSerializer(serializers.Serializer):
    user_key = serializers.CharField()
    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = EventResultSerializer(many=True)
