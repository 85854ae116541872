"""Checks a hand-built JSON payload against the output serializer that documents it.

The feed and ingestion responses are built by hand for speed; these checks make a field
that is in the payload but not in the serializer (or the other way round) fail a test, so
the published schema cannot drift from what the endpoints send.
"""
import json

from rest_framework import serializers
from rest_framework.renderers import JSONRenderer


def declared_paths(field, path=""):
    """Every key the serializer declares, nested keys as dotted paths: `sections.hero[].components`."""
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        return declared_paths(field.child, path + "[]")
    if isinstance(field, serializers.DictField):
        return declared_paths(field.child, path + "{}")
    if isinstance(field, serializers.Serializer):
        paths = set()
        for name, child in field.fields.items():
            paths |= {path + "." + name} | declared_paths(child, path + "." + name)
        return paths
    return set()


def payload_paths(field, value, path=""):
    """The key paths `value` has; AssertionError for a key `field` does not declare or a required key it lacks."""
    if value is None:
        return set()
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        assert isinstance(value, list), f"{path or 'the payload'} is not a list"
        return set().union(*(payload_paths(field.child, v, path + "[]") for v in value))
    if isinstance(field, serializers.DictField):
        assert isinstance(value, dict), f"{path or 'the payload'} is not an object"
        return set().union(*(payload_paths(field.child, v, path + "{}") for v in value.values()))
    if isinstance(field, serializers.Serializer):
        assert isinstance(value, dict), f"{path or 'the payload'} is not an object"
        fields = field.fields
        undeclared = sorted(set(value) - set(fields))
        assert not undeclared, f"{path or 'the payload'} has keys {type(field).__name__} does not declare: {undeclared}"
        missing = sorted(name for name, f in fields.items() if f.required and name not in value)
        assert not missing, f"{path or 'the payload'} lacks required keys of {type(field).__name__}: {missing}"
        paths = set()
        for name, v in value.items():
            paths |= {path + "." + name} | payload_paths(fields[name], v, path + "." + name)
        return paths
    return set()


def assert_matches_serializer(serializer_class, *bodies):
    """Each parsed JSON body has only keys the serializer declares and all the required ones, the
    bodies together have every key it declares (optional ones included), and the serializer renders
    each body to the same JSON."""
    seen = set()
    for body in bodies:
        seen |= payload_paths(serializer_class(), body)
        assert json.loads(JSONRenderer().render(serializer_class(body).data)) == body
    assert seen == declared_paths(serializer_class()), (
        f"declared but never sent: {sorted(declared_paths(serializer_class()) - seen)}"
    )
