"""Beat maintenance of user state: materialize affinity decay, prune dust, expire idle sessions.

Lazy decay keeps every stored (score, updated_at) exact: readers decay it to their own
`now` (score x 2^(-age / half-life), personalization/ranking/affinity.py). These jobs only
rebase rows to `now` and delete what has decayed to nothing, so they commute with
ingestion and a second run at the same `now` changes nothing. Both work in chunks of
short transactions and renew their task lease after each chunk.
"""
import math

from django.db import connection, transaction

from feedproject.db import (
    for_update_skip_locked,
    in_subquery,
    seconds_between,
    sql_datetime,
    sql_table,
    temporary_table_create,
)
from personalization.models import TopicAffinity, UserProfile
from personalization.ranking.affinity import HALF_LIFE, PRUNE_BELOW, SESSION_GAP, decayed_sql

DECAY_CHUNK_ROWS = 20_000
EXPIRY_CHUNK_USERS = 1_000
# A row is rewritten once its value has moved by this share since it was stored: a long-term
# row every ~10 h (30 d x log2(1/0.99)), a session row every ~26 s. Every reader decays the
# stored (score, updated_at) to its own `now` anyway, so the tolerance never shows in a score;
# it saves rewriting every row every hour (docs/pipeline.md has the numbers).
REBASE_TOLERANCE = 0.01


def rebase_age(horizon):
    """Age after which a row of `horizon` has decayed by REBASE_TOLERANCE."""
    return HALF_LIFE[horizon] * math.log2(1 / (1 - REBASE_TOLERANCE))


def _value_sql(now):
    """(SQL, params): a row's value at `now`, with the half-life of its horizon."""
    long_s = HALF_LIFE[TopicAffinity.Horizon.LONG].total_seconds()
    session_s = HALF_LIFE[TopicAffinity.Horizon.SESSION].total_seconds()
    half_life = (f"(CASE WHEN horizon = '{TopicAffinity.Horizon.LONG}' THEN CAST({long_s!r} AS DOUBLE PRECISION) "
                 f"ELSE CAST({session_s!r} AS DOUBLE PRECISION) END)")
    return decayed_sql("score", seconds_between(now, "updated_at"), half_life)


def affinities_decay_materialize(*, now, chunk_rows=DECAY_CHUNK_ROWS, on_chunk=None):
    """Delete affinities whose value at `now` is under PRUNE_BELOW, and store at their value at
    `now` those that have decayed by REBASE_TOLERANCE or more; returns counts.

    Idempotent: a second run at the same `now` finds nothing to prune or rewrite. Rows that
    ingestion writes during the run are newer than `now` and left alone; rows it holds
    locked are skipped (PostgreSQL, SKIP LOCKED), so the job never waits on a user's request
    nor deadlocks with one; the next run, or the user's next event, rebases them.
    Work goes in chunks of `chunk_rows`, each its own short transaction.
    """
    table = sql_table(TopicAffinity)
    value, value_params = _value_sql(now)
    lock = for_update_skip_locked()
    now_db = sql_datetime(now)
    updated = deleted = 0

    # Dust: one scan for the few rows to delete, then deletes that check again under the lock.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE updated_at < %s AND ABS({value}) < %s",
                       [now_db, *value_params, PRUNE_BELOW])
        dust = [row[0] for row in cursor.fetchall()]
    for start in range(0, len(dust), chunk_rows):
        chunk = dust[start : start + chunk_rows]
        rows = (f"SELECT id FROM {table} WHERE id IN ({', '.join(['%s'] * len(chunk))}) "
                f"AND updated_at < %s AND ABS({value}) < %s{lock}")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE {in_subquery('id', rows)}",
                           [*chunk, now_db, *value_params, PRUNE_BELOW])
            deleted += cursor.rowcount
        if on_chunk:
            on_chunk()

    # Rebase. The rows due are listed once, in the order of the (user, horizon, topic) unique
    # index, and rewritten in chunks of that order: each chunk's index entries then land on a
    # few neighbouring pages, 2.5x faster than in updated_at order (docs/pipeline.md).
    long_horizon = TopicAffinity.Horizon.LONG
    due = ("(horizon = %s AND updated_at < %s) OR (horizon <> %s AND updated_at < %s)", [
        long_horizon, sql_datetime(now - rebase_age(long_horizon)), long_horizon,
        sql_datetime(now - rebase_age(TopicAffinity.Horizon.SESSION)),
    ])
    with connection.cursor() as cursor:
        temporary_table_create(cursor, "affinity_decay_due", {"seq": "bigint", "id": "bigint"}, primary_key="seq")
        try:
            cursor.execute(
                f"INSERT INTO affinity_decay_due SELECT ROW_NUMBER() OVER (ORDER BY user_key, horizon, topic_type, "
                f"topic_value), id FROM {table} WHERE {due[0]}",
                due[1],
            )
            cursor.execute("SELECT COUNT(*) FROM affinity_decay_due")
            total = cursor.fetchone()[0]
            for low in range(0, total, chunk_rows):
                rows = (f"SELECT id FROM {table} WHERE id IN (SELECT id FROM affinity_decay_due WHERE seq > %s "
                        f"AND seq <= %s) AND ({due[0]}){lock}")
                with transaction.atomic():
                    cursor.execute(
                        f"UPDATE {table} SET score = {value}, updated_at = %s WHERE {in_subquery('id', rows)}",
                        [*value_params, now_db, low, low + chunk_rows, *due[1]],
                    )
                    updated += cursor.rowcount
                if on_chunk:
                    on_chunk()
        finally:
            cursor.execute("DROP TABLE affinity_decay_due")
    return {"updated": updated, "deleted": deleted}


def sessions_expire(*, now, chunk_users=EXPIRY_CHUNK_USERS, on_chunk=None):
    """Delete the session-horizon affinities of users idle for more than SESSION_GAP; returns counts.

    Each user's profile is locked and their idleness checked again before the delete, so an
    event being ingested at that moment (which holds the same lock) is never cleared away.
    """
    cutoff = now - SESSION_GAP
    session = TopicAffinity.Horizon.SESSION
    candidates = list(
        UserProfile.objects.filter(
            last_active_at__lt=cutoff,
            user_key__in=TopicAffinity.objects.filter(horizon=session).values("user_key"),
        )
        .order_by("user_key")
        .values_list("user_key", flat=True)
    )
    users = deleted = 0
    for start in range(0, len(candidates), chunk_users):
        with transaction.atomic():
            idle = list(
                UserProfile.objects.select_for_update(skip_locked=True)
                .filter(user_key__in=candidates[start : start + chunk_users], last_active_at__lt=cutoff)
                .order_by("user_key")
                .values_list("user_key", flat=True)
            )
            count, _ = TopicAffinity.objects.filter(horizon=session, user_key__in=idle).delete()
        users += len(idle)
        deleted += count
        if on_chunk:
            on_chunk()
    return {"users": users, "deleted": deleted}
