"""SQL fragments whose spelling differs between SQLite and PostgreSQL: epoch seconds, elapsed time,
null-safe inequality, locking reads, the quoting and parameters raw SQL needs, and rows fetched raw."""
from datetime import datetime

from django.db import connection, connections
from django.db.models import FloatField, Func


def sql_table(model):
    """The quoted table name of `model`, for raw SQL."""
    return connection.ops.quote_name(model._meta.db_table)


def sql_name(name):
    """A quoted column (or table) name, for raw SQL."""
    return connection.ops.quote_name(name)


def sql_datetime(value):
    """A datetime as the parameter a raw statement compares a DateTimeField column with."""
    return connection.ops.adapt_datetimefield_value(value)


def values_rows(queryset):
    """The rows of a values_list() queryset as the cursor returns them: the same SQL, without the
    iterator's per-row work, which for a few hundred rows costs more than the query (serving reads
    four such lists a request). For columns whose values the driver returns as Python wants them:
    numbers, text, epochs (Epoch); a boolean comes back as 0 / 1 on SQLite."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class Epoch(Func):
    """Seconds since 1970 of a datetime, computed by the database: no datetime objects to build per row."""

    output_field = FloatField()
    arity = 1

    @property
    def convert_value(self):
        # Both databases return a double already (NULL as None): no float() per row. A query whose
        # columns need no conversion skips Django's per-row converter pass altogether.
        return self._convert_value_noop

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return _pg_seconds(sql), params
        whole, fraction = _sqlite_seconds(sql)
        return f"({whole} + {fraction})", (*params, *params)


def seconds_between(later, earlier):
    """(SQL, params): the seconds from `earlier` to `later`, a double exact to the microsecond.

    Each of them is SQL for a datetime (a column name, say) or a datetime, which goes in as a
    parameter. Negative when `later` is before `earlier`.
    """
    (later_sql, later_params), (earlier_sql, earlier_params) = _datetime_sql(later), _datetime_sql(earlier)
    if connection.vendor == "postgresql":
        return _pg_seconds(f"({later_sql} - {earlier_sql})"), [*later_params, *earlier_params]
    (later_whole, later_fraction), (earlier_whole, earlier_fraction) = (
        _sqlite_seconds(later_sql), _sqlite_seconds(earlier_sql)
    )
    # Whole seconds and fractions apart: the difference of two epochs near 1.7e9 as doubles
    # would be off by up to half a microsecond.
    return (f"(({later_whole} - {earlier_whole}) + ({later_fraction} - {earlier_fraction}))",
            [*later_params, *earlier_params, *later_params, *earlier_params])


def _datetime_sql(value):
    if isinstance(value, datetime):
        return ("%s::timestamptz" if connection.vendor == "postgresql" else "%s"), [sql_datetime(value)]
    return value, []


def _pg_seconds(sql):
    # date_part, not EXTRACT: EXTRACT returns numeric, ~3x slower over millions of rows. For a
    # timestamp the double is the same; for an interval it is within one ulp.
    return f"date_part('epoch', {sql})"


def _sqlite_seconds(sql):
    """(whole seconds since 1970, fraction) of a datetime as Django stores it, 'YYYY-MM-DD HH:MM:SS.ffffff'.

    The fraction is read from the text as is: exact to the microsecond, which SQLite's date
    functions, on a millisecond clock, are not. They get the text without it, or they would
    round 12:00:03.9996 up to 12:00:04.
    """
    return f"CAST(strftime('%%s', substr({sql}, 1, 19)) AS INTEGER)", f"CAST(substr({sql}, 20) AS REAL)"


def is_distinct_from(left, right):
    """SQL that is true when `left` and `right` (expressions or row values) differ, NULL counting as a value."""
    operator = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    return f"{left} {operator} {right}"


def in_subquery(column, subquery):
    """SQL for `column` IN (`subquery`), with the subquery run once before the outer statement.

    PostgreSQL: ARRAY(...) runs the subquery (one that locks its rows, say) once and the outer
    statement then finds the rows by `column`; with IN (...) the planner may hash it against a
    full scan.
    """
    if connection.vendor == "postgresql":
        return f"{column} = ANY(ARRAY({subquery}))"
    return f"{column} IN ({subquery})"


def for_update_skip_locked():
    """The suffix of a SELECT that locks its rows and passes over those another transaction holds.

    Empty on SQLite, where one writing transaction at a time holds the whole database anyway.
    """
    return " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
