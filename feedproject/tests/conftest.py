import sys

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """Django's handler closes the database connection after each request, and with it the test's
    transaction; its test client disconnects that hook the same way for its own requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def pytest_terminal_summary(terminalreporter):
    """The API contract test's counts, for the CI log: requests tried, 500s, schema violations."""
    contract = sys.modules.get("feedproject.tests.test_api_contract")  # only when this run collected it
    stats = getattr(contract, "STATS", None)
    if stats and stats["requests"]:
        by_status = ", ".join(f"{status}: {count}" for status, count in sorted(stats["statuses"].items()))
        terminalreporter.write_line(
            f"schemathesis: {stats['requests']} requests, {stats['server_errors']} with status 500, "
            f"{stats['violations']} schema violations (by status: {by_status})"
        )
