"""Serializer fields shared by every app's query and body shapes."""
import re

from rest_framework import serializers

# PostgreSQL refuses NUL in text and jsonb (DataError; SQLite takes it, so the two would differ)
# and a lone surrogate cannot be encoded to UTF-8 (UnicodeEncodeError); both would surface as a
# 500 deep in a query, so they are refused at the edge: here for query and body shapes, and by
# tracking.validation for events.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Must not contain NUL bytes or unpaired surrogates."


def refuse_unstorable(value):
    if isinstance(value, str) and UNSTORABLE.search(value):
        raise serializers.ValidationError(UNSTORABLE_MESSAGE)


class CleanCharField(serializers.CharField):
    """A CharField whose value can be stored and queried on both databases.

    DRF's CharField already carries validators for both; this one checks before anything else, with
    one message, and names the rule so a query or body shape states it rather than relies on it.
    The 500s came from views reading request.query_params raw: read the query through a serializer.
    """

    def to_internal_value(self, data):
        # Checked before CharField's own work, so no later step sees the raw value.
        refuse_unstorable(data)
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """A body shape that refuses unknown fields: a misspelt option must not fall back to its default silently."""

    def validate(self, data):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            message = f"Unknown field; the fields are {', '.join(self.fields)}."
            raise serializers.ValidationError({name: [message] for name in unknown})
        return data
