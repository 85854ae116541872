"""feedproject.db: each vendor helper gives the same answer on SQLite and PostgreSQL (the suite runs on both)."""
import threading
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import OperationalError, connection, connections, transaction

from feedproject.db import (
    SQLITE_MAX_PARAMS,
    Epoch,
    bulk_update,
    bulk_upsert,
    for_update_skip_locked,
    in_subquery,
    is_distinct_from,
    row_relation,
    row_sources,
    seconds_between,
    sql_datetime,
    sql_name,
    sql_table,
    temporary_table_create,
    transaction_jit_off,
    transaction_lock,
)
from personalization.models import TopicAffinity, UserProfile

POSTGRES = connection.vendor == "postgresql"
AT = datetime(2026, 11, 26, 12, 7, 3, 654321, tzinfo=dt_timezone.utc)


def profile(user_key, started, active):
    return UserProfile.objects.create(user_key=user_key, created_at=started, session_started_at=started,
                                      last_active_at=active)


def scalar(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("at", [AT, AT.replace(microsecond=0), AT.replace(microsecond=999_999),
                                datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=dt_timezone.utc)])
def test_epoch_is_the_timestamp_to_the_microsecond(at):
    profile("u:1", at, at)
    (value,) = UserProfile.objects.values_list(Epoch("session_started_at"), flat=True)
    assert value == pytest.approx(at.timestamp(), abs=1e-6)


@pytest.mark.django_db
@pytest.mark.parametrize("elapsed", [
    timedelta(0), timedelta(microseconds=1), timedelta(microseconds=-1), timedelta(seconds=1, microseconds=-345_679),
    timedelta(hours=-3), timedelta(days=400, microseconds=123_457), timedelta(days=-400, microseconds=999_999),
])
def test_seconds_between_columns_and_datetimes(elapsed):
    earlier, later = AT, AT + elapsed
    profile("u:1", earlier, later)
    table = sql_table(UserProfile)
    expected = elapsed.total_seconds()
    for later_sql, earlier_sql in [("last_active_at", "session_started_at"), (later, "session_started_at"),
                                   ("last_active_at", earlier), (later, earlier)]:
        sql, params = seconds_between(later_sql, earlier_sql)
        assert scalar(f"SELECT {sql} FROM {table}", params) == pytest.approx(expected, rel=1e-15, abs=1e-9)
    sql, params = seconds_between("session_started_at", "last_active_at")
    assert scalar(f"SELECT {sql} FROM {table}", params) == pytest.approx(-expected, rel=1e-15, abs=1e-9)


@pytest.mark.django_db
def test_seconds_between_a_row_and_itself_is_exactly_zero():
    profile("u:1", AT, AT)
    sql, params = seconds_between(AT, "last_active_at")
    assert scalar(f"SELECT {sql} FROM {sql_table(UserProfile)}", params) == 0.0


@pytest.mark.django_db
@pytest.mark.parametrize(("left", "right", "differ"), [
    ("(1, CAST(NULL AS INTEGER))", "(1, CAST(NULL AS INTEGER))", False),
    ("(1, CAST(NULL AS INTEGER))", "(1, 2)", True),
    ("(1, 2)", "(1, 2)", False),
    ("(1, 2)", "(1, 3)", True),
    ("CAST(NULL AS INTEGER)", "CAST(NULL AS INTEGER)", False),
    ("CAST(NULL AS INTEGER)", "0", True),
])
def test_is_distinct_from_counts_null_as_a_value(left, right, differ):
    assert scalar(f"SELECT CASE WHEN {is_distinct_from(left, right)} THEN 1 ELSE 0 END") == int(differ)


@pytest.mark.django_db
def test_in_subquery_and_for_update_skip_locked():
    for value, score in [("a", 1.0), ("b", 2.0), ("c", 3.0)]:
        TopicAffinity.objects.create(user_key="u:1", horizon="long", topic_type="category", topic_value=value,
                                     score=score, updated_at=AT)
    table = sql_table(TopicAffinity)
    locking = f"SELECT id FROM {table} WHERE score >= %s{for_update_skip_locked()}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql_name('topic_value')} FROM {table} WHERE {in_subquery('id', locking)} "
                       "ORDER BY topic_value", [2.0])
        assert [r[0] for r in cursor.fetchall()] == ["b", "c"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not POSTGRES, reason="SQLite runs one writing transaction at a time without a lock")
def test_skip_locked_passes_over_rows_another_transaction_holds():
    row = TopicAffinity.objects.create(user_key="u:1", horizon="long", topic_type="category", topic_value="a",
                                       score=1.0, updated_at=AT)
    seen = _while_held(f"SELECT id FROM {sql_table(TopicAffinity)} WHERE id = %s FOR UPDATE", [row.pk],
                       f"SELECT id FROM {sql_table(TopicAffinity)} WHERE id = %s{for_update_skip_locked()}", [row.pk])
    assert seen == []


@pytest.mark.django_db(transaction=True)
def test_transaction_lock_holds_other_transactions_until_commit():
    with transaction.atomic():
        transaction_lock("markets.marketvelocity")
        transaction_lock("markets.marketvelocity")  # the holder may take it again
    if not POSTGRES:
        return
    with pytest.raises(OperationalError):
        _while_held_lock("markets.marketvelocity", "markets.marketvelocity")
    assert _while_held_lock("markets.marketvelocity", "tracking.other") == "taken"
    # Released at commit: a new transaction takes it at once.
    assert _while_held_lock(None, "markets.marketvelocity") == "taken"


def _while_held_lock(held, wanted):
    """In a second connection, try to take `wanted` while this one holds `held` (PostgreSQL)."""
    outcome = {}

    def contender():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
                transaction_lock(wanted)
            outcome["result"] = "taken"
        except OperationalError as error:
            outcome["error"] = error
        finally:
            connections.close_all()

    with transaction.atomic():
        if held:
            transaction_lock(held)
        thread = threading.Thread(target=contender)
        thread.start()
        thread.join(timeout=30)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _while_held(hold_sql, hold_params, sql, params):
    """The rows `sql` returns in a second connection while this one ran `hold_sql` in an open transaction."""
    outcome = {}

    def reader():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
                outcome["rows"] = cursor.fetchall()
        finally:
            connections.close_all()

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(hold_sql, hold_params)
        thread = threading.Thread(target=reader)
        thread.start()
        thread.join(timeout=30)
    return outcome["rows"]


@pytest.mark.django_db(transaction=True)
def test_transaction_jit_off_lasts_to_the_end_of_the_transaction():
    before = scalar("SHOW jit") if POSTGRES else None
    with transaction.atomic():
        with transaction.atomic():  # a savepoint ending does not end it
            transaction_jit_off()
        if POSTGRES:
            assert scalar("SHOW jit") == "off"
    if POSTGRES:
        assert scalar("SHOW jit") == before


TYPES = {"market_id": "bigint", "scope": "varchar(8)", "score": "double precision"}


@pytest.mark.django_db
@pytest.mark.parametrize("count", [0, 1, SQLITE_MAX_PARAMS // len(TYPES) + 7])
def test_temporary_table_holds_the_columns_it_was_given(count):
    values = {"market_id": list(range(count)), "scope": [["global", "IL", None][i % 3] for i in range(count)],
              "score": [i / 7 if i % 5 else None for i in range(count)]}
    with connection.cursor() as cursor:
        temporary_table_create(cursor, "test_scores", TYPES, primary_key="market_id", key=["scope"], values=values)
        cursor.execute("SELECT market_id, scope, score FROM test_scores ORDER BY market_id")
        assert cursor.fetchall() == list(zip(*values.values(), strict=True))
        cursor.execute("DROP TABLE test_scores")


@pytest.mark.django_db
def test_temporary_table_primary_key_is_enforced():
    from django.db import IntegrityError

    with connection.cursor() as cursor:
        temporary_table_create(cursor, "test_due", {"seq": "bigint", "id": "bigint"}, primary_key="seq")
        cursor.execute("INSERT INTO test_due VALUES (1, 10)")
        with pytest.raises(IntegrityError), transaction.atomic():
            cursor.execute("INSERT INTO test_due VALUES (1, 11)")
        cursor.execute("DROP TABLE test_due")


def test_row_sources_one_statement_on_postgresql_chunks_on_sqlite():
    rows = [(i, "s", 0.5) for i in range(SQLITE_MAX_PARAMS // 3 + 1)]
    sources = list(row_sources(list(TYPES.values()), rows))
    if POSTGRES:
        assert len(sources) == 1
        assert sources[0][1] == [list(c) for c in zip(*rows, strict=True)]
    else:
        assert len(sources) == 2
        assert all(len(params) <= SQLITE_MAX_PARAMS for _, params in sources)
        assert [tuple(p[i : i + 3]) for _, p in sources for i in range(0, len(p), 3)] == rows


@pytest.mark.django_db
def test_bulk_upsert_replaces_adds_and_encodes_json():
    columns = ("user_key", "created_at", "last_active_at", "session_started_at", "total_interactions",
               "total_impressions", "geo_country", "category_dwell")
    upsert = dict(conflict=("user_key",), replace=("category_dwell",), add=("total_interactions",))
    first = [("u:1", AT, AT, AT, 2, 0, "IL", {"Sports": {"count": 1}})]
    assert bulk_upsert(UserProfile, columns, first, returning="user_key", **upsert) == [("u:1",)]
    bulk_upsert(UserProfile, columns, [("u:1", AT, AT, AT, 3, 0, "IL", {"Crypto": {"count": 2}}),
                                       ("u:2", AT, None, None, 1, 0, "", {})], **upsert)
    assert dict(UserProfile.objects.values_list("user_key", "total_interactions")) == {"u:1": 5, "u:2": 1}
    assert UserProfile.objects.get(user_key="u:1").category_dwell == {"Crypto": {"count": 2}}


@pytest.mark.django_db
def test_bulk_update_sets_the_columns_of_the_keyed_rows_only():
    for key in ("u:1", "u:2", "u:3"):
        profile(key, AT, AT)
    later = AT + timedelta(hours=1)
    assert bulk_update(UserProfile, ("total_interactions", "last_active_at", "geo_country"),
                       [("u:1", 7, later, "IL"), ("u:3", 9, None, ""), ("u:404", 1, AT, "US")],
                       key="user_key") == 2
    rows = UserProfile.objects.order_by("user_key").values_list("user_key", "total_interactions", "last_active_at",
                                                                "geo_country")
    assert list(rows) == [("u:1", 7, later, "IL"), ("u:2", 0, AT, ""), ("u:3", 9, None, "")]
    assert bulk_update(UserProfile, ("total_interactions",), []) == 0


@pytest.mark.django_db
def test_bulk_update_over_sqlites_parameter_limit():
    keys = [f"u:{i}" for i in range(SQLITE_MAX_PARAMS // 2 + 5)]
    UserProfile.objects.bulk_create([UserProfile(user_key=k, created_at=AT) for k in keys], batch_size=2000)
    assert bulk_update(UserProfile, ("total_interactions",), [(k, i) for i, k in enumerate(keys)],
                       key="user_key") == len(keys)
    assert UserProfile.objects.filter(total_interactions__gt=0).count() == len(keys) - 1


@pytest.mark.django_db
def test_row_relation_joins_like_a_table():
    rows = [(1, 0.5, sql_datetime(AT)), (2, 0.25, sql_datetime(AT + timedelta(seconds=1)))]
    relations = list(row_relation(["integer", "double precision", "timestamp with time zone"], ["n", "x", "at"],
                                  rows, alias="r"))
    assert len(relations) == 1
    sql, params = relations[0]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r.n, r.x FROM {sql} WHERE r.at > %s ORDER BY r.n",
                       [*params, sql_datetime(AT)])
        assert cursor.fetchall() == [(2, 0.25)]


@pytest.mark.django_db
def test_sql_datetime_compares_with_a_stored_datetime():
    profile("u:1", AT, AT)
    table = sql_table(UserProfile)
    assert scalar(f"SELECT COUNT(*) FROM {table} WHERE last_active_at = %s", [sql_datetime(AT)]) == 1
    assert scalar(f"SELECT COUNT(*) FROM {table} WHERE last_active_at < %s",
                  [sql_datetime(AT + timedelta(microseconds=1))]) == 1


@pytest.mark.django_db
def test_values_rows_are_the_querysets_rows_in_the_order_asked_for():
    from feedproject.db import values_rows

    UserProfile.objects.create(user_key="u:2", created_at=AT, last_active_at=None, total_interactions=7)
    UserProfile.objects.create(user_key="u:1", created_at=AT, last_active_at=AT, total_interactions=3)
    # Expressions between fields, a NULL epoch, an aggregate, a slice: the cursor's rows are the iterator's.
    queryset = UserProfile.objects.order_by("user_key").values_list(
        "user_key", Epoch("last_active_at"), "total_interactions", Epoch("created_at")
    )
    assert values_rows(queryset) == list(queryset) == [
        ("u:1", AT.timestamp(), 3, AT.timestamp()), ("u:2", None, 7, AT.timestamp()),
    ]
    assert values_rows(queryset.all()[1:]) == [("u:2", None, 7, AT.timestamp())]
    from django.db.models import Count
    grouped = UserProfile.objects.values("total_interactions").annotate(n=Count("id")).order_by("-total_interactions")
    assert values_rows(grouped.values_list("total_interactions", "n")) == [(7, 1), (3, 1)]
