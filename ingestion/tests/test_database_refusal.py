"""A row the database refuses after validation passed it: the rest of its batch is stored, it is rejected.

Validation is widened here (monkeypatch) to let through what the database then refuses, the
way a case the checks missed would reach it.
"""
import dataclasses
import math
import uuid

import pytest
from django.db import DataError, OperationalError, ProgrammingError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import ingestion.services
from ingestion.services import INTERACTION, events_ingest
from ingestion.tests.conftest import make_event
from personalization.models import UserProfile
from tracking.models import Interaction, RejectedEvent
from tracking.validation import INTERACTION_FIELDS

pytestmark = pytest.mark.django_db


def widen_dwell_ms(monkeypatch):
    field = INTERACTION_FIELDS["dwell_ms"]
    monkeypatch.setitem(INTERACTION_FIELDS, "dwell_ms", dataclasses.replace(field, low=-(2**100), high=2**100))


def negative_dwell(monkeypatch):
    """The column's CHECK (dwell_ms >= 0) refuses it: IntegrityError on both databases."""
    widen_dwell_ms(monkeypatch)
    return make_event(dwell_ms=-5)


def dwell_beyond_64_bits(monkeypatch):
    """PostgreSQL: integer out of range (DataError); SQLite: sqlite3 refuses to bind it (OverflowError)."""
    widen_dwell_ms(monkeypatch)
    return make_event(dwell_ms=2**70)


def nul_in_metadata(monkeypatch):
    """PostgreSQL's jsonb refuses \\u0000 (DataError); SQLite stores it, so there is nothing to refuse."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite stores a NUL in JSON text: only PostgreSQL refuses it")
    monkeypatch.setattr(ingestion.services, "storable_check", lambda raw: None)
    return make_event(metadata={"note": "a\u0000b"})


REFUSED = [negative_dwell, dwell_beyond_64_bits, nul_in_metadata]


def statuses(results):
    return [(r["status"], r.get("field")) for r in results]


@pytest.mark.parametrize("refused", REFUSED)
def test_a_refused_row_is_rejected_and_the_rest_of_its_batch_is_stored(api, nba_market, monkeypatch, refused):
    bad = refused(monkeypatch)
    good = [make_event(), make_event()]
    batch = {"events": [good[0], bad, good[1]]}

    response = api.post("/api/track", batch, format="json")

    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert statuses(body["results"]) == [("accepted", None), ("rejected", "event"), ("accepted", None)]
    reason = body["results"][1]["reason"]
    assert "refused by the database" in reason
    assert not any(word in reason.lower() for word in ("error", "violates", "constraint", "sql", "range"))
    assert {str(i) for i in Interaction.objects.values_list("event_id", flat=True)} == {e["event_id"] for e in good}
    rejected = RejectedEvent.objects.get()
    assert (rejected.event_id, rejected.field, rejected.reason) == (bad["event_id"], "event", reason)
    # User state counts the stored events only: the refused one changed nothing.
    assert UserProfile.objects.get().total_interactions == 2

    retry = api.post("/api/track", batch, format="json")

    assert retry.status_code == 200
    assert statuses(retry.json()["results"]) == [("duplicate", None), ("rejected", "event"), ("duplicate", None)]
    assert Interaction.objects.count() == 2
    assert UserProfile.objects.get().total_interactions == 2
    assert RejectedEvent.objects.count() == 2  # every refused attempt is kept, as for any rejection


def test_a_refused_row_is_found_in_a_few_transactions_not_one_per_event(nba_market, monkeypatch):
    size = 64
    raw = [make_event() for _ in range(size)]
    raw[37] = negative_dwell(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        result = events_ingest(kind=INTERACTION, raw_events=raw, user_key="u:1", received_at=timezone.now())
    assert [r["status"] for r in result.results] == ["accepted"] * 37 + ["rejected"] + ["accepted"] * 26
    assert Interaction.objects.count() == size - 1
    # Inside the test's transaction each one is a savepoint: the batch with its rejections, the
    # events alone, two halves per level down to the refused event, and the rejections.
    savepoints = sum(1 for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT"))
    assert savepoints == 1 + 1 + 2 * int(math.log2(size)) + 1, savepoints


@pytest.mark.parametrize("error", [OperationalError("the server closed the connection"),
                                   ProgrammingError('column "x" does not exist')])
def test_an_outage_or_a_statement_fault_is_no_refusal_and_fails_the_batch(nba_market, monkeypatch, error):
    # An outage must reach the API (503, the client retries); a statement fault would refuse
    # every event and stays a 500, so a bad deploy is not taken for bad data.
    def failing(**kwargs):
        raise error

    monkeypatch.setattr(ingestion.services, "raw_events_store", failing)
    with pytest.raises(type(error)):
        events_ingest(kind=INTERACTION, raw_events=[make_event()], user_key="u:1", received_at=timezone.now())
    assert not RejectedEvent.objects.exists()


def test_a_refused_write_of_the_rejections_fails_neither_the_batch_nor_its_events(nba_market, monkeypatch, caplog):
    # Not a case known to happen (a rejection's payload is stored as text when it is not storable
    # as JSON). If it did, the events are stored and not blamed for it, the answer still says
    # which were rejected, and the log says the rejections were not kept.
    def refusing(**kwargs):
        raise DataError("value too long for type character varying(64)")

    monkeypatch.setattr(ingestion.services, "rejected_events_store", refusing)
    raw = [make_event(), make_event(market_id="nope")]
    result = events_ingest(kind=INTERACTION, raw_events=raw, user_key="u:1", received_at=timezone.now())
    assert statuses(result.results) == [("accepted", None), ("rejected", "market_id")]
    assert Interaction.objects.count() == 1
    assert "refused the 1 rejections" in caplog.text


def test_a_batch_the_database_takes_whole_runs_in_one_transaction(nba_market):
    raw = [make_event(event_id=str(uuid.uuid4())) for _ in range(5)]
    with CaptureQueriesContext(connection) as queries:
        events_ingest(kind=INTERACTION, raw_events=raw, user_key="u:1", received_at=timezone.now())
    assert sum(1 for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT")) == 1
