"""Many rows in one statement: bulk INSERT ... ON CONFLICT and UPDATE ... FROM for the hot write paths, and the
row sources under them.

The ORM's bulk_create cannot add to counters in place nor say which rows it really
inserted, and building a model instance per row costs more than the write itself at
thousands of events a second. Rows here are plain tuples. On PostgreSQL they travel
as one array per column (INSERT ... SELECT FROM unnest(...)), so the statement text and
its plan do not change with the number of rows.
"""
import functools
import uuid
from dataclasses import dataclass

from django.db import connection
from django.db.models import JSONField

SQLITE_MAX_PARAMS = 30_000  # SQLite refuses statements with more than 32,766 parameters


def row_sources(types, rows, fields=None):
    """(SQL, params) pairs that feed `INSERT INTO t (columns) <SQL>` with `rows` (tuples).

    PostgreSQL: one SELECT over unnest() of an array per column, `types` being the columns'
    SQL types. Elsewhere: VALUES lists, as many statements as SQLite's parameter limit needs.
    With `fields` (the columns' model fields), values get each field's database encoding.
    """
    if connection.vendor == "postgresql":
        arrays = [list(column) for column in zip(*rows, strict=True)]
        for i, field in enumerate(fields or ()):
            if isinstance(field, JSONField):  # JSON values need the field's own encoding
                arrays[i] = [field.get_db_prep_save(v, connection) for v in arrays[i]]
        yield _unnest(tuple(types), _binary_parameters()), arrays
        return
    width = len(types)
    per_statement = max(1, SQLITE_MAX_PARAMS // width)
    placeholder = "(" + ", ".join(["%s"] * width) + ")"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        if fields:
            params = [f.get_db_prep_save(value, connection) for row in chunk
                      for f, value in zip(fields, row, strict=True)]
        else:
            params = [value for row in chunk for value in row]
        yield "VALUES " + ", ".join([placeholder] * len(chunk)), params


def row_relation(types, names, rows, *, alias, fields=None):
    """(SQL, params) pairs, each a relation `alias` with columns `names` holding `rows` (tuples), for a FROM or JOIN.

    PostgreSQL: unnest() of one array per column (`types`, their SQL types), one pair whatever
    the number of rows. SQLite: a VALUES list under a SELECT that names its columns, as many
    pairs as its parameter limit needs. `fields` (model fields, one per column) encode the
    values as row_sources does; without them the values go in as they are (a datetime compared
    with a column goes through sql_datetime first).
    """
    if connection.vendor == "postgresql":
        source, arrays = next(row_sources(types, rows, fields))
        unnest = source.removeprefix("SELECT * FROM ").removesuffix(" WHERE true")
        yield f"{unnest} AS {alias} ({', '.join(names)})", arrays
        return
    selected = ", ".join(f"column{i} AS {name}" for i, name in enumerate(names, 1))
    for source, params in row_sources(types, rows, fields):
        yield f"(SELECT {selected} FROM ({source})) AS {alias}", params


def bulk_update(model, columns, rows, *, key="id"):
    """Set `columns` (field names) of the rows of `model` whose `key` is each row's first value.

    `rows` are tuples (key, *columns), distinct keys. One UPDATE ... FROM per batch (one on
    PostgreSQL), where bulk_update's CASE per column grows with every row and is far slower.
    Returns the number of rows updated.
    """
    if not rows:
        return 0
    qn = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in (key, *columns)]
    names = [qn(f.column) for f in fields]
    table = qn(model._meta.db_table)
    assignments = ", ".join(f"{name} = _rows.{name}" for name in names[1:])
    match = f"{table}.{names[0]} = _rows.{names[0]}"
    updated = 0
    with connection.cursor() as cursor:
        for relation, params in row_relation([_db_type(f) for f in fields], names, rows, alias="_rows",
                                             fields=fields):
            cursor.execute(f"UPDATE {table} SET {assignments} FROM {relation} WHERE {match}", params)
            updated += cursor.rowcount
    return updated


def _binary_parameters():
    return bool(connection.settings_dict["OPTIONS"].get("server_side_binding"))


@functools.cache
def _unnest(types, binary):
    # Binary arrays skip the text escaping of every element (server-side binding only).
    marker = "%b" if binary else "%s"
    # A SELECT feeding INSERT ... ON CONFLICT needs a WHERE to parse unambiguously.
    return "SELECT * FROM unnest(" + ", ".join(f"{marker}::{t}[]" for t in types) + ") WHERE true"


def bulk_upsert(model, columns, rows, *, conflict, replace=(), add=(), returning=None):
    """Insert `rows` (tuples in the order of `columns`, field names) into `model`'s table.

    On a conflict on `conflict` (field names): overwrite the `replace` fields, add the
    `add` fields to the stored values, or do nothing if both are empty. Rows must have
    distinct conflict keys. With `returning` (a field name), returns that field's values
    for the rows actually inserted or updated.
    """
    if not rows:
        return []
    plan = _plan(model, tuple(columns), tuple(conflict), tuple(replace), tuple(add), returning, connection.vendor)
    result = []
    with connection.cursor() as cursor:
        for source, params in row_sources(plan.types, rows, plan.fields):
            cursor.execute(plan.insert + source + plan.on_conflict, params)
            if returning:
                result.extend(cursor.fetchall())
    return result


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
    types: tuple  # the columns' SQL types, for PostgreSQL's arrays
    insert: str  # INSERT INTO t (columns)
    on_conflict: str  # ON CONFLICT (...) DO ... [RETURNING ...]


@functools.cache
def _plan(model, columns, conflict, replace, add, returning, vendor):
    qn = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in columns]
    table = qn(model._meta.db_table)
    conflict_sql = ", ".join(qn(model._meta.get_field(name).column) for name in conflict)
    updates = [f"{qn(c)} = excluded.{qn(c)}" for c in _columns(model, replace)]
    updates += [f"{qn(c)} = {table}.{qn(c)} + excluded.{qn(c)}" for c in _columns(model, add)]
    action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
    returning_sql = f" RETURNING {qn(model._meta.get_field(returning).column)}" if returning else ""
    return _Plan(
        fields=fields,
        types=tuple(_db_type(f) for f in fields),
        insert=f"INSERT INTO {table} ({', '.join(qn(f.column) for f in fields)}) ",
        on_conflict=f" ON CONFLICT ({conflict_sql}) {action}{returning_sql}",
    )


def _columns(model, names):
    return [model._meta.get_field(name).column for name in names]


def _db_type(field):
    target = field.target_field if field.is_relation else field
    return target.rel_db_type(connection) if field.is_relation else target.db_type(connection)
