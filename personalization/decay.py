"""Beat maintenance of user state: materialize affinity decay, prune dust, expire idle sessions.

Lazy decay (SPEC 4) keeps every stored (score, updated_at) exact: readers decay to
their own `now`. These jobs only rebase rows to `now` and delete what has decayed to
nothing, so they commute with ingestion and a second run at the same `now` changes
nothing. Both work in chunks of short transactions, skip rows that ingestion holds
locked (PostgreSQL), and renew their task lease after each chunk.
"""
from django.db import connection, transaction

from personalization.models import TopicAffinity, UserProfile
from personalization.ranking.affinity import HALF_LIFE, PRUNE_BELOW, SESSION_GAP

DECAY_CHUNK_IDS = 50_000
EXPIRY_CHUNK_USERS = 1_000


def _value_sql(now_param):
    """SQL for score x 2^(-(now - updated_at) / half_life), half-life by horizon, in seconds."""
    if connection.vendor == "postgresql":
        elapsed = f"EXTRACT(EPOCH FROM ({now_param} - updated_at))"
    else:
        elapsed = f"((julianday({now_param}) - julianday(updated_at)) * 86400.0)"
    long_s = HALF_LIFE[TopicAffinity.Horizon.LONG].total_seconds()
    session_s = HALF_LIFE[TopicAffinity.Horizon.SESSION].total_seconds()
    half_life = f"(CASE WHEN horizon = '{TopicAffinity.Horizon.LONG}' THEN {long_s!r} ELSE {session_s!r} END)"
    return f"(score * POWER(2.0, -({elapsed}) / {half_life}))"


def affinities_decay_materialize(*, now, chunk_ids=DECAY_CHUNK_IDS, on_chunk=None):
    """Store each affinity at its value at `now` and delete those under PRUNE_BELOW; returns counts.

    Idempotent: a row already at `now` is not touched, and decaying to `now` twice is
    decaying once. Rows written by ingestion during the run are newer than `now` and left
    alone; rows it holds locked are skipped this hour (their next write rebases them anyway).
    """
    table = connection.ops.quote_name(TopicAffinity._meta.db_table)
    bounds = TopicAffinity.objects.filter(updated_at__lt=now).order_by("pk").values_list("pk", flat=True)
    first, last = bounds.first(), bounds.last()
    updated = deleted = 0
    if first is None:
        return {"updated": 0, "deleted": 0}
    is_pg = connection.vendor == "postgresql"
    now_param = "%s::timestamptz" if is_pg else "%s"
    value = _value_sql(now_param)
    lock = " FOR UPDATE SKIP LOCKED" if is_pg else ""
    now_db = connection.ops.adapt_datetimefield_value(now)
    for low in range(first, last + 1, chunk_ids):
        high = low + chunk_ids
        rows = f"SELECT id FROM {table} WHERE id >= %s AND id < %s AND updated_at < %s{lock}"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN ({rows}) AND ABS({value}) < %s",
                [low, high, now_db, now_db, PRUNE_BELOW],
            )
            deleted += cursor.rowcount
            cursor.execute(
                f"UPDATE {table} SET score = {value}, updated_at = %s WHERE id IN ({rows})",
                [now_db, now_db, low, high, now_db],
            )
            updated += cursor.rowcount
        if on_chunk:
            on_chunk()
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
