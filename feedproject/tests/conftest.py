import sys


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
