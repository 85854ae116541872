"""Event weights applied to topic affinities, and their lazy exponential decay."""
from datetime import timedelta

from feedproject.vocabulary import EVENT_WEIGHTS

CATEGORY_FACTOR = 1.0
TAG_FACTOR = 0.8

HALF_LIFE = {"long": timedelta(days=30), "session": timedelta(minutes=30)}
SESSION_GAP = timedelta(minutes=30)
PRUNE_BELOW = 0.01


def dwell_multiplier(dwell_ms):
    if dwell_ms is None:
        return 1.0
    if dwell_ms >= 30_000:
        return 1.5
    if dwell_ms >= 5_000:
        return 1.2
    return 1.0


def event_weight(event_type, dwell_ms=None):
    return EVENT_WEIGHTS[event_type] * dwell_multiplier(dwell_ms)


def decay_factor(elapsed, half_life):
    """2^(-elapsed / half_life); `elapsed` and `half_life` are both timedeltas or both seconds."""
    return 2.0 ** (-(elapsed / half_life))


def decayed(score, updated_at, now, half_life):
    """The value at `now` of a score stored at `updated_at`."""
    return score * decay_factor(now - updated_at, half_life)


def add_at(score, updated_at, delta, at, half_life):
    """Add `delta`, happening at time `at`, to a lazily decayed score.

    Times are datetimes with a timedelta `half_life`, or epoch seconds with `half_life` in
    seconds. Returns the new (score, updated_at). A late event (at < updated_at) is decayed
    forward to updated_at instead of moving the reference time back, so the result
    does not depend on the order in which events arrive: a replay equals live traffic.
    """
    if updated_at is None:
        return delta, at
    if at >= updated_at:
        return decayed(score, updated_at, at, half_life) + delta, at
    return score + delta * decay_factor(updated_at - at, half_life), updated_at
