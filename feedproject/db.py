"""One bulk INSERT ... ON CONFLICT for the hot write paths, in SQL that SQLite and PostgreSQL share.

The ORM's bulk_create cannot add to counters in place nor say which rows it really
inserted, and building a model instance per row costs more than the write itself at
thousands of events a second. Rows here are plain tuples. On PostgreSQL they travel
as one array per column (INSERT ... SELECT FROM unnest(...)), so the statement text and
its plan do not change with the number of rows.
"""
import contextlib
import functools
import uuid
from dataclasses import dataclass

from django.db import connection
from django.db.models import FloatField, Func, JSONField

SQLITE_MAX_PARAMS = 30_000  # SQLite refuses statements with more than 32,766 parameters


def bulk_upsert(model, columns, rows, *, conflict, replace=(), add=(), returning=None):
    """Insert `rows` (tuples in the order of `columns`, field names) into `model`'s table.

    On a conflict on `conflict` (field names): overwrite the `replace` fields, add the
    `add` fields to the stored values, or do nothing if both are empty. Rows must have
    distinct conflict keys. With `returning` (a field name), returns that field's values
    for the rows actually inserted or updated.
    """
    if not rows:
        return []
    binary = bool(connection.settings_dict["OPTIONS"].get("server_side_binding"))
    plan = _plan(model, tuple(columns), tuple(conflict), tuple(replace), tuple(add), returning,
                 connection.vendor, binary)
    result = []
    with connection.cursor() as cursor:
        for source, params in _sources(plan, rows):
            cursor.execute(plan.insert + source + plan.on_conflict, params)
            if returning:
                result.extend(cursor.fetchall())
    return result


@contextlib.contextmanager
def pipelined():
    """On PostgreSQL, send the block's statements without waiting for each one's result.

    psycopg's pipeline mode: the server runs statement n while Python builds statement n + 1,
    and there is no round trip per statement. A read whose rows the block fetches still waits
    for them. An error surfaces at the latest when the block ends, as the same Django
    exception as without the pipeline, inside the caller's transaction, which then rolls
    back as usual. Elsewhere, statements run one by one.
    """
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def insert_new_ids(model, columns, rows, *, unique="event_id"):
    """Insert rows whose `unique` value is new; returns the set of UUIDs actually inserted.

    Tells a retried event from a new one in one statement, even when two requests carry
    the same event at the same moment.
    """
    returned = bulk_upsert(model, columns, rows, conflict=[unique], returning=unique)
    return {v if isinstance(v, uuid.UUID) else uuid.UUID(str(v)) for (v,) in returned}


@dataclass(frozen=True)
class _Plan:
    """The fixed parts of one bulk upsert statement, built once per shape (hot paths run it per request)."""

    fields: list
    json_columns: list  # positions of JSONField columns, whose values need the field's own encoding
    insert: str  # INSERT INTO t (columns)
    on_conflict: str  # ON CONFLICT (...) DO ... [RETURNING ...]
    unnest: str  # PostgreSQL's row source: one array per column


@functools.cache
def _plan(model, columns, conflict, replace, add, returning, vendor, binary):
    qn = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in columns]
    table = qn(model._meta.db_table)
    conflict_sql = ", ".join(qn(model._meta.get_field(name).column) for name in conflict)
    updates = [f"{qn(c)} = excluded.{qn(c)}" for c in _columns(model, replace)]
    updates += [f"{qn(c)} = {table}.{qn(c)} + excluded.{qn(c)}" for c in _columns(model, add)]
    action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
    returning_sql = f" RETURNING {qn(model._meta.get_field(returning).column)}" if returning else ""
    unnest = ""
    if vendor == "postgresql":
        # Binary arrays skip the text escaping of every element (server-side binding only).
        marker = "%b" if binary else "%s"
        casts = ", ".join(f"{marker}::{_db_type(f)}[]" for f in fields)
        # A SELECT feeding INSERT ... ON CONFLICT needs a WHERE to parse unambiguously.
        unnest = f"SELECT * FROM unnest({casts}) WHERE true"
    return _Plan(
        fields=fields,
        json_columns=[i for i, f in enumerate(fields) if isinstance(f, JSONField)],
        insert=f"INSERT INTO {table} ({', '.join(qn(f.column) for f in fields)}) ",
        on_conflict=f" ON CONFLICT ({conflict_sql}) {action}{returning_sql}",
        unnest=unnest,
    )


def _columns(model, names):
    return [model._meta.get_field(name).column for name in names]


def _sources(plan, rows):
    """(SQL, params) pairs that feed the INSERT: one unnest on PostgreSQL, VALUES chunks elsewhere."""
    fields = plan.fields
    if plan.unnest:
        arrays = [list(column) for column in zip(*rows, strict=True)]
        for i in plan.json_columns:
            arrays[i] = [fields[i].get_db_prep_save(v, connection) for v in arrays[i]]
        yield plan.unnest, arrays
        return
    per_statement = max(1, SQLITE_MAX_PARAMS // len(fields))
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        params = [f.get_db_prep_save(value, connection) for row in chunk for f, value in zip(fields, row, strict=True)]
        yield "VALUES " + ", ".join([placeholder] * len(chunk)), params


def _db_type(field):
    target = field.target_field if field.is_relation else field
    return target.rel_db_type(connection) if field.is_relation else target.db_type(connection)


class Epoch(Func):
    """Seconds since 1970 of a datetime, computed by the database: no datetime objects to build per row."""

    output_field = FloatField()
    arity = 1

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # Whole seconds plus the stored '.ffffff' fraction: exact to the microsecond, which
        # julianday()'s day-based double is not.
        template = "(CAST(strftime('%%%%s', %(expressions)s) AS REAL) + CAST(substr(%(expressions)s, 20) AS REAL))"
        return self.as_sql(compiler, connection, template=template, **extra)
