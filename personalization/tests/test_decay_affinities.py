"""affinities_decay_materialize: rows stored at their value now, dust pruned, idempotent, crash-safe."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from personalization.decay import affinities_decay_materialize, rebase_age
from personalization.models import TopicAffinity
from personalization.ranking.affinity import HALF_LIFE, decayed

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 26, 12, 7, tzinfo=dt_timezone.utc)


def affinity(user, value, score, age, horizon="long", topic_type="category"):
    return TopicAffinity.objects.create(
        user_key=user, horizon=horizon, topic_type=topic_type, topic_value=value, score=score,
        updated_at=NOW - age,
    )


def table():
    return {
        (a.user_key, a.horizon, a.topic_type, a.topic_value): (a.score, a.updated_at)
        for a in TopicAffinity.objects.all()
    }


def values_at(rows, when):
    """What any reader computes from the stored rows at `when` (lazy decay)."""
    return {key: decayed(score, at, when, HALF_LIFE[key[1]]) for key, (score, at) in rows.items()}


def seed():
    affinity("u:1", "Sports", 8.0, timedelta(days=30))              # long: halves to 4
    affinity("u:1", "Crypto", -4.0, timedelta(days=15))             # negative decays too
    affinity("u:1", "Weather", 0.015, timedelta(days=30))           # decays to 0.0075: pruned
    affinity("u:2", "nba", 3.0, timedelta(minutes=60), "session", "tag")  # session: quarter
    affinity("u:2", "nfl", 0.05, timedelta(hours=3), "session", "tag")    # 0.05 / 64: pruned
    affinity("u:3", "Politics", 2.0, timedelta(0))                  # already at now: untouched
    affinity("u:3", "Economy", 2.0, -timedelta(seconds=5))          # written after the run began


@pytest.fixture
def affinities():
    seed()


def test_decayed_rows_are_stored_at_their_value_now_and_dust_is_deleted(affinities):
    assert affinities_decay_materialize(now=NOW) == {"updated": 3, "deleted": 2}
    rows = table()
    assert rows[("u:1", "long", "category", "Sports")][0] == pytest.approx(4.0)
    assert rows[("u:1", "long", "category", "Crypto")][0] == pytest.approx(-4.0 / 2 ** 0.5)
    assert rows[("u:2", "session", "tag", "nba")][0] == pytest.approx(0.75)
    assert rows[("u:1", "long", "category", "Sports")][1] == NOW
    assert ("u:1", "long", "category", "Weather") not in rows
    assert ("u:2", "session", "tag", "nfl") not in rows
    assert rows[("u:3", "long", "category", "Economy")] == (2.0, NOW + timedelta(seconds=5))


def test_the_value_every_reader_computes_later_does_not_change():
    affinity("u:1", "Sports", 8.0, timedelta(days=3))
    later = NOW + timedelta(days=2)
    before = {(a.topic_value): decayed(a.score, a.updated_at, later, HALF_LIFE["long"])
              for a in TopicAffinity.objects.all()}
    affinities_decay_materialize(now=NOW)
    after = {(a.topic_value): decayed(a.score, a.updated_at, later, HALF_LIFE["long"])
             for a in TopicAffinity.objects.all()}
    assert after["Sports"] == pytest.approx(before["Sports"], rel=1e-12)


def test_a_second_run_at_the_same_time_changes_nothing(affinities):
    affinities_decay_materialize(now=NOW)
    once = table()
    assert affinities_decay_materialize(now=NOW) == {"updated": 0, "deleted": 0}
    assert table() == once


def test_hourly_runs_end_where_one_run_ends(affinities):
    for hours in range(0, 24, 1):
        affinities_decay_materialize(now=NOW - timedelta(hours=24 - hours))
    affinities_decay_materialize(now=NOW)
    hourly = values_at(table(), NOW)
    TopicAffinity.objects.all().delete()
    seed()
    affinities_decay_materialize(now=NOW)
    once = values_at(table(), NOW)
    assert hourly.keys() == once.keys()
    for key in once:
        assert hourly[key] == pytest.approx(once[key], rel=1e-9)


def test_a_run_killed_between_chunks_is_finished_by_the_next_one(affinities):
    # Chunks of two ids; the process dies after the first chunk committed.
    class Killed(BaseException):
        pass

    def die():
        raise Killed

    with pytest.raises(Killed):
        affinities_decay_materialize(now=NOW, chunk_rows=2, on_chunk=die)
    half_done = TopicAffinity.objects.filter(updated_at=NOW).count()
    assert 0 < half_done < 4  # three rows to rebase and one already at now; only part done
    affinities_decay_materialize(now=NOW, chunk_rows=2)
    resumed = table()

    TopicAffinity.objects.all().delete()
    seed()
    affinities_decay_materialize(now=NOW)
    assert table() == resumed


def test_a_row_that_has_decayed_by_less_than_one_percent_is_left_as_stored():
    recent = affinity("u:1", "Sports", 8.0, rebase_age("long") - timedelta(minutes=1))
    old = affinity("u:1", "Crypto", 8.0, rebase_age("long") + timedelta(minutes=1))
    assert affinities_decay_materialize(now=NOW) == {"updated": 1, "deleted": 0}
    recent.refresh_from_db()
    old.refresh_from_db()
    assert (recent.score, recent.updated_at) == (8.0, NOW - rebase_age("long") + timedelta(minutes=1))
    assert old.updated_at == NOW and old.score == pytest.approx(8.0 * 0.99, rel=1e-4)
    assert rebase_age("long") == pytest.approx(timedelta(hours=10.45), abs=timedelta(minutes=1))


def test_nothing_to_do_on_an_empty_table():
    assert affinities_decay_materialize(now=NOW) == {"updated": 0, "deleted": 0}
