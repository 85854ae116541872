"""The decay formula in SQL (decayed_sql) equals the one in Python (decayed), evaluated by the real database."""
import itertools
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection

from feedproject.db import seconds_between, sql_table
from personalization.decay import _value_sql
from personalization.models import TopicAffinity
from personalization.ranking.affinity import HALF_LIFE, SQL_ZERO_AFTER_HALF_LIVES, decayed, decayed_sql

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 26, 12, 7, 0, 654321, tzinfo=dt_timezone.utc)

SCORES = [8.0, -4.0, 0.015, 12_345.678]
AGES = [
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(seconds=1, microseconds=987_654),  # the stored fraction is above now's: a borrow
    timedelta(minutes=30),
    timedelta(hours=5, microseconds=345_679),
    timedelta(days=1, microseconds=-1),
    timedelta(days=30),
    timedelta(days=365, seconds=7),
    timedelta(days=3650),
    timedelta(days=36_500),
    -timedelta(microseconds=1),  # written after `now`: the value grows
    -timedelta(seconds=1, microseconds=500_000),
    -timedelta(minutes=20),
]
HALF_LIVES = [timedelta(seconds=60), HALF_LIFE["session"], timedelta(hours=6), HALF_LIFE["long"], timedelta(days=365)]


@pytest.fixture
def rows():
    """One affinity per (score, age), stored `age` before NOW; {topic_value: (score, updated_at)}."""
    TopicAffinity.objects.bulk_create([
        TopicAffinity(user_key="u:1", horizon="long", topic_type="category", topic_value=f"{i}", score=score,
                      updated_at=NOW - age)
        for i, (score, age) in enumerate(itertools.product(SCORES, AGES))
    ])
    return {a.topic_value: (a.score, a.updated_at) for a in TopicAffinity.objects.all()}


def in_database(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT topic_value, {sql} FROM {sql_table(TopicAffinity)}", params)
        return dict(cursor.fetchall())


def near(expected, score):
    """Equal to ~1e-9; past SQL_ZERO_AFTER_HALF_LIVES the SQL value is 0 where Python's is not quite yet."""
    return pytest.approx(expected, rel=1e-9, abs=abs(score) * 2.0 ** -SQL_ZERO_AFTER_HALF_LIVES)


@pytest.mark.parametrize("half_life", HALF_LIVES, ids=lambda h: f"{h.total_seconds():g}s")
def test_sql_decay_equals_python_decay(rows, half_life):
    sql, params = decayed_sql("score", seconds_between(NOW, "updated_at"),
                              f"CAST({half_life.total_seconds()!r} AS DOUBLE PRECISION)")
    values = in_database(sql, params)
    assert values.keys() == rows.keys()
    for key, (score, updated_at) in rows.items():
        expected = decayed(score, updated_at, NOW, half_life)
        assert values[key] == near(expected, score), (score, NOW - updated_at)
        if updated_at == NOW:
            assert values[key] == score


def test_very_old_rows_decay_to_zero_without_an_underflow_error(rows):
    """PostgreSQL raises "value out of range: underflow" on a bare POWER(2.0, -8640.0)."""
    half_life = timedelta(seconds=10)
    sql, params = decayed_sql("score", seconds_between(NOW, "updated_at"), "CAST(10.0 AS DOUBLE PRECISION)")
    values = in_database(sql, params)
    old = [key for key, (_, updated_at) in rows.items() if NOW - updated_at >= timedelta(days=1)]
    assert old
    for key in old:
        score, updated_at = rows[key]
        assert values[key] == decayed(score, updated_at, NOW, half_life) == 0.0


def test_the_decay_job_values_rows_with_the_half_life_of_their_horizon(rows):
    TopicAffinity.objects.filter(topic_value__in=[k for k in rows if int(k) % 2]).update(horizon="session")
    horizons = dict(TopicAffinity.objects.values_list("topic_value", "horizon"))
    values = in_database(*_value_sql(NOW))
    for key, (score, updated_at) in rows.items():
        assert values[key] == near(decayed(score, updated_at, NOW, HALF_LIFE[horizons[key]]), score)
