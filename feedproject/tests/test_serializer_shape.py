"""The drift check of hand-built payloads catches what it is there to catch."""
import pytest
from rest_framework import serializers

from feedproject.tests.serializer_shape import assert_matches_serializer


class ItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    extra = serializers.DictField(child=serializers.FloatField(), required=False)


class BodySerializer(serializers.Serializer):
    user_key = serializers.CharField()
    items = ItemSerializer(many=True)
    note = serializers.CharField(required=False)


def test_a_payload_with_every_declared_key_passes():
    assert_matches_serializer(
        BodySerializer, {"user_key": "a", "items": [{"id": "x"}]}, {"user_key": "b", "note": "n",
                                                                    "items": [{"id": "y", "extra": {"k": 1.5}}]}
    )


@pytest.mark.parametrize(
    "bodies, message",
    [
        ([{"user_key": "a", "note": "n", "items": [{"id": "x", "extra": {}, "new": 1}]}], "does not declare"),
        ([{"note": "n", "items": [{"id": "x", "extra": {}}]}], "lacks required"),
        ([{"user_key": "a", "items": [{"id": "x", "extra": {"k": 1.0}}]}], "never sent"),
        ([{"user_key": "a", "note": "n", "items": [{"id": "x", "extra": {"k": "high"}}]}], "could not convert"),
    ],
)
def test_a_key_or_value_the_serializer_would_not_send_fails(bodies, message):
    with pytest.raises((AssertionError, ValueError), match=message):
        assert_matches_serializer(BodySerializer, *bodies)
