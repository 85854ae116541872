"""What a block of statements runs under: pipelining, a lock held to the end of the transaction, no JIT."""
import contextlib
import zlib

from django.db import connection


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


def transaction_lock(key):
    """Inside a transaction: wait until no other open transaction has taken the lock of `key` (a string).

    PostgreSQL: a transaction-scoped advisory lock, released at commit or rollback, so a run
    that dies cannot leave it behind. SQLite already runs one writing transaction at a time
    (IMMEDIATE mode), so there is nothing to do.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(key.encode())])


def transaction_jit_off():
    """PostgreSQL: no JIT compilation until the transaction ends.

    For one-off aggregates the compilation costs more than it saves. Nothing to do elsewhere.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
