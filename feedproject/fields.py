"""Serializer fields shared by every app's query and body shapes."""
import re

from rest_framework import serializers

# PostgreSQL refuses NUL in text (DataError) and a lone surrogate cannot be encoded to UTF-8
# (UnicodeEncodeError); both would surface as a 500 deep in a query, so they are refused at the edge.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Must not contain NUL bytes or unpaired surrogates."


def refuse_unstorable(value):
    if isinstance(value, str) and _UNSTORABLE.search(value):
        raise serializers.ValidationError(UNSTORABLE_MESSAGE)


class CleanCharField(serializers.CharField):
    """A CharField whose value can be stored and queried on both databases."""

    def to_internal_value(self, data):
        # Checked before CharField's own work, so no later step sees the raw value.
        refuse_unstorable(data)
        return super().to_internal_value(data)
