"""Helpers for the pipeline tests: events through the real ingestion path, and table dumps."""
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone

from ingestion.services import IMPRESSION, INTERACTION, events_ingest
from markets.models import MarketVelocity

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=dt_timezone.utc)


def event(market, user, event_type, at, country="", **extra):
    data = {
        "event_id": str(uuid.uuid4()), "event_type": event_type, "market_id": market.market_id,
        "occurred_at": at.isoformat(), "user_key": user, **extra,
    }
    if country:
        data["country"] = country
    return data


def impression(market, user, at):
    return {"event_id": str(uuid.uuid4()), "market_id": market.market_id, "shown_at": at.isoformat(),
            "user_key": user}


def ingest(events, *, received_at, kind=INTERACTION):
    """Store events as a service would send them (batches of 500), received at `received_at`."""
    for start in range(0, len(events), 500):
        result = events_ingest(
            kind=kind, raw_events=events[start : start + 500], user_key=None, acting_service=True,
            received_at=received_at,
        )
        assert result.count("rejected") == 0, [r for r in result.results if r["status"] == "rejected"][:3]


def ingest_impressions(events, *, received_at):
    return ingest(events, received_at=received_at, kind=IMPRESSION)


def velocity_table(exclude=("id", "computed_at")):
    """{(market_id slug, scope): {field: value}} of every MarketVelocity row."""
    fields = [f.attname for f in MarketVelocity._meta.fields if f.attname not in (*exclude, "market_id")]
    return {
        (row["market__market_id"], row["scope"]): {k: (round(v, 9) if isinstance(v, float) else v)
                                                   for k, v in row.items() if k in fields}
        for row in MarketVelocity.objects.values("market__market_id", *fields)
    }
