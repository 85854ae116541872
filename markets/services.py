"""Writes to the catalog that other parts of the system must hear about."""
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from feedproject.cache import cache_set
from feedproject.db import bulk_update, bulk_upsert, row_relation, sql_datetime, sql_name, sql_table
from markets.models import SNAPSHOT_FIELDS, STATE_FIELDS, Market, MarketSnapshot

CATALOG_VERSION_KEY = "catalog:version"


def catalog_version_bump():
    """Tell every process that keeps catalog arrays in memory to reload them.

    A cache that is down is not an error: readers also reload on a short timer
    (personalization/selectors.py)."""
    cache_set(CATALOG_VERSION_KEY, time.time_ns(), None)


def market_snapshot_take(*, markets, at):
    """One snapshot per market of its current state; a market that already has one at `at` keeps it."""
    return market_snapshots_store(
        rows=[(m.pk, at, {name: getattr(m, name) for name in SNAPSHOT_FIELDS}) for m in markets], replace=False
    )


def market_snapshots_store(*, rows, replace):
    """Write snapshots: `rows` are (market pk, taken_at, {SNAPSHOT_FIELDS: value}); returns how many were written.

    The one writer of MarketSnapshot rows. There is one per market and moment: where one is
    stored already, `replace` overwrites its values (a push is the trading backend's word on that
    moment) or keeps it (beat's copy of the current state, a new market's first state, the demo's
    generated history). Within `rows` the last row of a market and moment wins.
    """
    unique = {(pk, taken_at): values for pk, taken_at, values in rows}
    if not unique:
        return 0
    columns = ("market", "taken_at", *SNAPSHOT_FIELDS)
    values = [(pk, taken_at, *(v.get(name, 0) if name == "trades_24h" else v[name] for name in SNAPSHOT_FIELDS))
              for (pk, taken_at), v in unique.items()]
    return len(bulk_upsert(MarketSnapshot, columns, values, conflict=("market", "taken_at"),
                           replace=SNAPSHOT_FIELDS if replace else (), returning="id"))


# What each pushed update did (docs/market-state.md#results).
APPLIED = "applied"  # the market's current state moved to it; a snapshot records it
HISTORY = "history"  # older than the current state: stored as a snapshot of that moment only
UNCHANGED = "unchanged"  # the state at that moment already had these values: nothing stored
DUPLICATE = "duplicate"  # this moment is stored with these values already (the same update sent again)
REJECTED = "rejected"
RESULT_STATUSES = (APPLIED, HISTORY, UNCHANGED, DUPLICATE, REJECTED)
STATE_CHUNK = 1000  # updates per set of statements; SQLite's parameter limit allows about 3,000


@dataclass(slots=True)
class _Locked:
    """A market's row as market_states_update holds it while it applies the batch."""

    pk: int
    state: dict  # STATE_FIELDS -> value
    state_at: object  # datetime or None


@transaction.atomic
def market_states_update(*, updates, now):
    """Apply pushed states (markets.validation.StateUpdate, any order); one result dict per update, in order.

    The one write path of a market's trading state (the PATCH and POST endpoints, the importers, an
    editor's status change in admin, the simulator):
    - an update at or after the market's `state_at` moves the current state and `state_at`;
    - an older one is stored as the snapshot of its moment, its missing fields taken from the
      snapshot before it, and the current state stays;
    - an update that changes nothing writes nothing; the same update sent twice is stored once.
    Updates of one market apply in time order (in request order at the same moment), so a batch
    gives the same end state however it is ordered. A market that does not exist rejects its
    updates only. Four statements per 1,000 updates whatever their markets: lock the markets (in
    market_id order, as the importer does, so concurrent writers cannot deadlock), read the
    snapshots older updates land on (none when every update is newer), upsert snapshots, update
    markets. The in-memory catalogs reload after commit when a current state moved.
    """
    results = [None] * len(updates)
    moved = False
    for start in range(0, len(updates), STATE_CHUNK):
        moved |= _states_chunk(updates, range(start, min(start + STATE_CHUNK, len(updates))), results, now)
    if moved:
        transaction.on_commit(catalog_version_bump)
    return results


def _states_chunk(updates, indexes, results, now):
    """Apply updates[i] for i in `indexes`, filling results[i]; whether any market's current state moved."""
    markets = _markets_lock({updates[i].market_id for i in indexes})
    by_market = {}
    for i in indexes:
        update = updates[i]
        if update.market_id in markets:
            by_market.setdefault(update.market_id, []).append(i)
        else:
            results[i] = {"market_id": update.market_id, "status": REJECTED, "field": "market_id",
                          "reason": f"unknown market {update.market_id!r}"}
    older = []
    for market_id, ids in by_market.items():
        market = markets[market_id]
        older.extend((i, market.pk, updates[i].at) for i in ids
                     if market.state_at is not None and updates[i].at < market.state_at)
    before = _snapshots_before(older)

    snapshots, market_rows = [], []
    for market_id, ids in by_market.items():
        market = markets[market_id]
        state, state_at = market.state, market.state_at
        written = None  # (taken_at, values) of the last snapshot this batch wrote for an older update
        for i in sorted(ids, key=lambda i: (updates[i].at, i)):
            update = updates[i]
            if state_at is not None and update.at < state_at:
                base = before.get(i)
                if written is not None and (base is None or written[0] >= base[0]):
                    base = written
                base_values = base[1] if base else {name: state[name] for name in SNAPSHOT_FIELDS}
                values = {**base_values, **{k: v for k, v in update.changes.items() if k in SNAPSHOT_FIELDS}}
                if values == base_values:
                    status = DUPLICATE if base is not None and base[0] == update.at else UNCHANGED
                else:
                    snapshots.append((market.pk, update.at, values))
                    written, status = (update.at, values), HISTORY
            else:
                values = {**state, **update.changes}
                if values == state:
                    status = DUPLICATE if update.at == state_at else UNCHANGED
                else:
                    state, status = values, APPLIED
                    snapshots.append((market.pk, update.at, {name: values[name] for name in SNAPSHOT_FIELDS}))
                state_at = update.at
            results[i] = {"market_id": market_id, "status": status}
        if state_at != market.state_at or state != market.state:
            market_rows.append((market.pk, *(state[name] for name in STATE_FIELDS), state_at, now))
    market_snapshots_store(rows=snapshots, replace=True)
    bulk_update(Market, (*STATE_FIELDS, "state_at", "updated_at"), market_rows)
    return any(results[i]["status"] == APPLIED for ids in by_market.values() for i in ids)


def _markets_lock(market_ids):
    """{market_id: _Locked} of the markets that exist, their rows locked to the end of the transaction.

    Raw SQL for one reason: the ids go in as one array (row_relation), where the ORM's IN list
    of 1,000 parameters costs psycopg about 10 ms a batch to parse.
    """
    table = sql_table(Market)
    columns = ", ".join(f"m.{sql_name(name)}" for name in ("id", "market_id", "state_at", *STATE_FIELDS))
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    markets = {}
    with connection.cursor() as cursor:
        for relation, params in row_relation([Market._meta.get_field("market_id").db_type(connection)],
                                             ["market_id"], [(market_id,) for market_id in market_ids],
                                             alias="_ids"):
            cursor.execute(f"SELECT {columns} FROM {table} m WHERE m.{sql_name('market_id')} IN "
                           f"(SELECT _ids.market_id FROM {relation}) ORDER BY m.{sql_name('market_id')}{lock}",
                           params)
            for pk, market_id, state_at, *state in cursor.fetchall():
                markets[market_id] = _Locked(pk, dict(zip(STATE_FIELDS, state, strict=True)),
                                             None if state_at is None else _datetime_read(state_at))
    return markets


def _snapshots_before(older):
    """{i: (taken_at, {SNAPSHOT_FIELDS: value})}: for each (i, market pk, at) of `older`, the market's latest
    snapshot at or before `at`, in one query (an index probe per update); i is missing where there is none."""
    if not older:
        return {}
    table, taken_at, market = sql_table(MarketSnapshot), sql_name("taken_at"), sql_name("market_id")
    columns = ", ".join(f"s.{sql_name(name)}" for name in ("taken_at", *SNAPSHOT_FIELDS))
    found = {}
    rows = [(i, pk, sql_datetime(at)) for i, pk, at in older]
    with connection.cursor() as cursor:
        for relation, params in row_relation(["integer", "bigint", "timestamp with time zone"],
                                             ["idx", "market_pk", "at"], rows, alias="_updates"):
            cursor.execute(
                f"SELECT _updates.idx, {columns} FROM {relation} JOIN {table} s ON s.id = ("
                f"SELECT s2.id FROM {table} s2 WHERE s2.{market} = _updates.market_pk AND s2.{taken_at} <= _updates.at"
                f" ORDER BY s2.{taken_at} DESC LIMIT 1)",
                params,
            )
            for i, at, *values in cursor.fetchall():
                found[i] = (_datetime_read(at), dict(zip(SNAPSHOT_FIELDS, values, strict=True)))
    return found


def _datetime_read(value):
    """A datetime column from raw SQL: PostgreSQL returns it aware; SQLite naive in UTC (or as Django's text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
REWOUND_FIELDS = ("probability", "volume_24h", "volume_total", "participant_count")


def market_states_rewind(*, states):
    """Overwrite the current odds, volumes and participants of markets: `states` maps market_id to a tuple
    of REWOUND_FIELDS. No snapshot, no `state_at`, no catalog reload; returns how many rows were set.

    Only for the demo's replay of past traffic (demo/activity.py, demo/traffic.py), which shows each
    simulated user the odds of that user's moment and puts the current ones back before its
    transaction ends. Real states go through market_states_update, which never moves a market's
    state backwards and records each one; this shares its set-based writer (feedproject.db.bulk_update).
    """
    return bulk_update(Market, REWOUND_FIELDS, [(market_id, *state) for market_id, state in states.items()],
                       key="market_id")


SNAPSHOT_SLOT = timedelta(minutes=15)


def market_snapshots_refresh(*, now):
    """Snapshot every open market that has none in the current 15-minute slot; returns how many.

    The slot makes it idempotent: a second run in the same slot, or a run after a crash
    half-way, writes only what is missing.
    """
    slot_start = now - (now - now.replace(minute=0, second=0, microsecond=0)) % SNAPSHOT_SLOT
    done = MarketSnapshot.objects.filter(taken_at__gte=slot_start, taken_at__lt=slot_start + SNAPSHOT_SLOT)
    missing = Market.objects.filter(status=Market.Status.OPEN).exclude(pk__in=done.values("market_id"))
    taken = 0
    for chunk in _chunks(missing.only(*STATE_FIELDS).order_by("pk").iterator(chunk_size=2000), 2000):
        market_snapshot_take(markets=chunk, at=now)
        taken += len(chunk)
    return taken


def _chunks(iterable, size):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
