"""The shared field that refuses what a database cannot store."""
import pytest
from rest_framework import serializers

from feedproject.fields import CleanCharField


class _Shape(serializers.Serializer):
    name = CleanCharField(max_length=10)


@pytest.mark.parametrize("value", ["\x00", "a\x00", "\ud800", "b\udfff"])
def test_nul_and_lone_surrogates_are_refused(value):
    shape = _Shape(data={"name": value})
    assert not shape.is_valid()
    assert list(shape.errors) == ["name"]


@pytest.mark.parametrize("value", ["plain", "ünï", "😀"])
def test_other_text_passes(value):
    shape = _Shape(data={"name": value})
    assert shape.is_valid(), shape.errors
    assert shape.validated_data["name"] == value
