"""Every piece of SQL that differs between SQLite and PostgreSQL, one helper per need, each working on both.

Raw SQL elsewhere sticks to what the two share and takes the rest from here: bulk upserts, bulk
updates and the row sources under them (upsert), temporary tables (temporary), epochs, elapsed time,
null-safe comparison, locking reads and raw rows of a queryset (expressions), pipelining and transaction-scoped locks
and settings (session).
"""
from feedproject.db.expressions import (
    Epoch,
    for_update_skip_locked,
    in_subquery,
    is_distinct_from,
    seconds_between,
    sql_datetime,
    sql_name,
    sql_table,
    values_rows,
)
from feedproject.db.session import pipelined, transaction_jit_off, transaction_lock
from feedproject.db.temporary import temporary_table_analyze, temporary_table_create, temporary_table_index
from feedproject.db.upsert import (
    SQLITE_MAX_PARAMS,
    bulk_update,
    bulk_upsert,
    insert_new_ids,
    row_relation,
    row_sources,
)

__all__ = [
    "SQLITE_MAX_PARAMS", "Epoch", "bulk_update", "bulk_upsert", "for_update_skip_locked", "in_subquery",
    "insert_new_ids", "is_distinct_from", "pipelined", "row_relation", "row_sources", "seconds_between",
    "sql_datetime", "sql_name", "sql_table",
    "temporary_table_analyze", "temporary_table_create", "temporary_table_index", "transaction_jit_off",
    "transaction_lock", "values_rows",
]
