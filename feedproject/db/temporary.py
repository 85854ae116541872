"""Temporary tables for the set-based jobs: created, filled from Python columns, indexed, analyzed."""
from django.db import connection

from feedproject.db.upsert import row_sources


def temporary_table_create(cursor, table, types, *, primary_key=None, key=None, values=None):
    """A new temporary table `table` with columns `types` (name -> SQL type).

    `primary_key`: its column, if any. `key`: columns to index for joins. `values` (name ->
    list, one per column): rows to fill it with, which travel as one array per column on
    PostgreSQL, and then statistics for the planner.
    """
    names = list(types)
    columns = [f"{n} {types[n]}" + (" PRIMARY KEY" if n == primary_key else "") for n in names]
    cursor.execute(f"CREATE TEMPORARY TABLE {table} ({', '.join(columns)})")
    if key:
        temporary_table_index(cursor, table, key)
    if not values or not values[names[0]]:
        return
    rows = list(zip(*(values[n] for n in names), strict=True))
    for source, params in row_sources([types[n] for n in names], rows):
        cursor.execute(f"INSERT INTO {table} {source}", params)
    temporary_table_analyze(cursor, table)


def temporary_table_index(cursor, table, key):
    """An index on the columns `key` of the temporary table `table`."""
    cursor.execute(f"CREATE INDEX {table}_key ON {table} ({', '.join(key)})")


def temporary_table_analyze(cursor, table):
    """PostgreSQL: statistics for the planner, which autovacuum never gathers on a temporary
    table, so that it does not plan joins on a guessed row count. Left out on SQLite."""
    if connection.vendor == "postgresql":
        cursor.execute(f"ANALYZE {table}")
