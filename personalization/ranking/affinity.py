"""Event weights applied to topic affinities, and their lazy exponential decay: the decay formula
in Python and in SQL, side by side."""
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


def event_weight(event_type, dwell_ms=None, values=EVENT_WEIGHTS):
    """The signed weight an event adds to its topics' affinities; `values` are the editors' (FeedConfig "events")."""
    return values.get(event_type, EVENT_WEIGHTS[event_type]) * dwell_multiplier(dwell_ms)


def decay_factor(elapsed, half_life):
    """2^(-elapsed / half_life); `elapsed` and `half_life` are both timedeltas or both seconds."""
    return 2.0 ** (-(elapsed / half_life))


def decayed(score, updated_at, now, half_life):
    """The value at `now` of a score stored at `updated_at`."""
    return score * decay_factor(now - updated_at, half_life)


# PostgreSQL fails on a float underflow where Python gives 0.0, so past this many half-lives
# the SQL value is 0; Python's is then under 1e-150 of the score, which no reader tells from 0.
SQL_ZERO_AFTER_HALF_LIVES = 500


def decayed_sql(score, elapsed, half_life):
    """decayed() as a SQL expression, for the jobs that decay rows in the database: (SQL, params).

    `score` and `half_life` (seconds) are SQL without parameters; `elapsed` is the (SQL, params)
    of the seconds from updated_at to now (feedproject.db.seconds_between). Double precision
    throughout: numeric POWER over millions of rows is ~18x slower on PostgreSQL (bench/pipeline.py).
    """
    elapsed_sql, elapsed_params = elapsed
    return (
        f"(CASE WHEN {elapsed_sql} < {SQL_ZERO_AFTER_HALF_LIVES}.0 * {half_life} "
        f"THEN {score} * POWER(CAST(2.0 AS DOUBLE PRECISION), -({elapsed_sql}) / {half_life}) ELSE 0.0 END)",
        [*elapsed_params, *elapsed_params],
    )


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
