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


# One name per input across the API; an older name stays accepted as a deprecated alias. The value
# of the name, or of whichever alias was given, is the input; two of them given with different
# values is an error naming the documented name (docs/api-errors.md, "One name for the country").
COUNTRY_PATTERN = r"^[A-Za-z]{2}$"


class AliasConflict(ValueError):
    def __init__(self, name, message):
        super().__init__(message)
        self.name, self.message = name, message


def _same_text(a, b):
    return str(a).casefold() == str(b).casefold()


def resolve_alias(values, name, aliases, *, same=_same_text):
    """The value given for `name` in `values` (a mapping) or under one of its deprecated `aliases`; None when
    none is given (missing, None or ""). Raises AliasConflict when two given values differ (`same` compares them;
    by default text that differs only in case is the same value: `country=il&geo=IL` is no conflict)."""
    given = [(key, values[key]) for key in (name, *aliases) if values.get(key) not in (None, "")]
    if not given:
        return None
    first_key, first = given[0]
    for key, value in given[1:]:
        if not same(first, value):
            raise AliasConflict(
                name, f"{first_key}={first!r} and {key}={value!r} disagree; {key} is a deprecated name of "
                f"{name}: send {name} only."
            )
    return first


def alias_resolved(attrs, name, aliases, *, same=_same_text):
    """resolve_alias for a serializer's validated `attrs`: the aliases are folded into `name` (removed from attrs);
    a conflict is a 400 naming `name`."""
    try:
        value = resolve_alias(attrs, name, aliases, same=same)
    except AliasConflict as conflict:
        raise serializers.ValidationError({conflict.name: [conflict.message]}) from None
    for alias in aliases:
        attrs.pop(alias, None)
    if value is None:
        attrs.pop(name, None)
    else:
        attrs[name] = value
    return attrs


# The precision of the floats the feed, rank and trending answers send (docs/api-errors.md, "Numbers"): more
# digits say nothing (a probability's 5th decimal is noise) and a binary float's tail (-0.025700000000000056)
# only confuses a client.
PROBABILITY_DECIMALS = 4  # probabilities and odds changes (0.1234 = 12.34 points)
SCORE_DECIMALS = 4  # scores, their components, rates and the trending score's inputs
MONEY_DECIMALS = 2  # volumes, in the market's currency


def rounded(value, decimals):
    """`value` rounded to `decimals` places as a plain float, never -0.0; None stays None."""
    if value is None:
        return None
    return round(float(value), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


class RoundedFloatField(serializers.FloatField):
    """A FloatField sent rounded to `decimals` places (PROBABILITY_DECIMALS, SCORE_DECIMALS, MONEY_DECIMALS)."""

    def __init__(self, *, decimals, **kwargs):
        self.decimals = decimals
        super().__init__(**kwargs)

    def to_representation(self, value):
        return rounded(super().to_representation(value), self.decimals)


def probability_field(**kwargs):
    return RoundedFloatField(decimals=PROBABILITY_DECIMALS, **kwargs)


def score_field(**kwargs):
    return RoundedFloatField(decimals=SCORE_DECIMALS, **kwargs)


def money_field(**kwargs):
    return RoundedFloatField(decimals=MONEY_DECIMALS, **kwargs)
