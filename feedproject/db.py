"""Two bulk statements the ORM does not offer, written once in SQL that SQLite and PostgreSQL share."""
import uuid

from django.db import connection


def _prep(model, field_names, objs):
    fields = [model._meta.get_field(name) for name in field_names]
    params = []
    for obj in objs:
        params.extend(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields)
    return [f.column for f in fields], params


def insert_new_returning_ids(model, objs, *, field_names, unique_field="event_id"):
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the set of `unique_field` values actually inserted.

    Tells a retried event from a new one in one statement, even when two requests carry
    the same event at the same moment.
    """
    if not objs:
        return set()
    qn = connection.ops.quote_name
    columns, params = _prep(model, field_names, objs)
    unique_column = model._meta.get_field(unique_field).column
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(map(qn, columns))}) "
        f"VALUES {', '.join([row] * len(objs))} "
        f"ON CONFLICT ({qn(unique_column)}) DO NOTHING RETURNING {qn(unique_column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    return {value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)) for (value,) in returned}


def upsert_add_counters(model, objs, *, key_fields, counter_fields):
    """INSERT ... ON CONFLICT (key) DO UPDATE SET counter = counter + excluded.counter.

    `objs` must have distinct keys. Increments happen in the database, so concurrent
    writers never lose each other's counts.
    """
    if not objs:
        return
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    columns, params = _prep(model, [*key_fields, *counter_fields], objs)
    key_columns = columns[: len(key_fields)]
    counter_columns = columns[len(key_fields) :]
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    updates = ", ".join(f"{qn(c)} = {table}.{qn(c)} + excluded.{qn(c)}" for c in counter_columns)
    sql = (
        f"INSERT INTO {table} ({', '.join(map(qn, columns))}) VALUES {', '.join([row] * len(objs))} "
        f"ON CONFLICT ({', '.join(map(qn, key_columns))}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
