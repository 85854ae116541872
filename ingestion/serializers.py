"""DRF serializers that document the tracking API; built from the validation table in tracking/validation.py.

Requests are validated by tracking/validation.py; these serializers document them. The
response is built by hand from IngestResult (cheaper than a serializer per event result);
ingestion/tests/test_track_api.py checks it against IngestResponseSerializer key by key.
"""
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from feedproject.api import anon_key_field
from feedproject.fields import COUNTRY_PATTERN as COUNTRY
from feedproject.fields import CleanCharField
from tracking.validation import IMPRESSION_FIELDS, INTERACTION_FIELDS


def _drf_field(field):
    common = {"required": field.required, "help_text": field.help or None}
    if field.kind == "uuid":
        return serializers.UUIDField(**common)
    if field.kind == "datetime":
        return serializers.DateTimeField(**common)
    if field.kind == "choice":
        return serializers.ChoiceField(choices=field.choices, **common)
    if field.kind == "int":
        return serializers.IntegerField(min_value=field.low, max_value=field.high, **common)
    if field.kind == "str":
        return serializers.CharField(max_length=field.max_length, **common)
    if field.kind == "country":
        return serializers.RegexField(COUNTRY, **common)
    return serializers.DictField(**common)


def _serializer(name, fields):
    shape = type(name, (serializers.Serializer,), {f.name: _drf_field(f) for f in fields.values()})
    deprecated = [f.name for f in fields.values() if f.deprecated]
    return extend_schema_serializer(deprecate_fields=deprecated)(shape) if deprecated else shape


InteractionEventSerializer = _serializer("InteractionEvent", INTERACTION_FIELDS)
ImpressionEventSerializer = _serializer("ImpressionEvent", IMPRESSION_FIELDS)


BATCH_USER_KEY_HELP = (
    "The user every event of the batch is for, unless an event names its own. A service token may name "
    "anyone; any other caller only itself, else each event is rejected on `user_key`."
)


class IngestQuerySerializer(serializers.Serializer):
    user_key = CleanCharField(max_length=64, required=False, help_text="As the body's `user_key`, which wins.")


@extend_schema_serializer(deprecate_fields=["geo_country"])
class TrackBatchSerializer(serializers.Serializer):
    """`POST /api/track`: one event object, or a batch under `events`."""

    events = InteractionEventSerializer(many=True, help_text="Up to 500 events.")
    sent_at = serializers.DateTimeField(required=False, help_text="Client clock when the batch was sent.")
    country = serializers.RegexField(
        COUNTRY, required=False, help_text="Every event's country unless it names its own."
    )
    geo_country = serializers.RegexField(
        COUNTRY, required=False, help_text="Deprecated: the old name of `country`; with a different `country`, a 400."
    )
    user_key = serializers.CharField(max_length=64, required=False, help_text=BATCH_USER_KEY_HELP)


class ImpressionBatchSerializer(serializers.Serializer):
    feed_request_id = serializers.UUIDField(required=False, allow_null=True)
    surface = serializers.CharField(max_length=32, required=False)
    sent_at = serializers.DateTimeField(required=False)
    user_key = serializers.CharField(max_length=64, required=False, help_text=BATCH_USER_KEY_HELP)
    impressions = ImpressionEventSerializer(many=True, help_text="Up to 500 impressions.")


class EventResultSerializer(serializers.Serializer):
    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    field = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)


class IngestResponseSerializer(serializers.Serializer):
    user_key = serializers.CharField(
        allow_null=True,
        help_text="The caller; for a service token the batch's user_key, null when it names the user per event.",
    )
    anon_key = anon_key_field()
    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = EventResultSerializer(many=True)
