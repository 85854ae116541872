"""Ingestion throughput through POST /api/track, in one process (issue 2).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/ingest.py

Sends the same kind of events in batches of 100 and, as the same-run baseline, one per
request, through the whole Django + DRF stack: the WSGI handler gunicorn calls, with
every middleware, minus the socket (`_django.wsgi_request`).
Prints the median events/s of several runs of each.
"""
import argparse
import json
import random
import time
import uuid
from datetime import timedelta

from _django import median, setup, teardown, wsgi_request


def make_catalog(n_markets, n_tags, rng):
    from django.utils import timezone

    from markets.models import Market, Tag

    tags = Tag.objects.bulk_create([Tag(slug=f"tag-{i}", label=f"Tag {i}") for i in range(n_tags)])
    from feedproject.vocabulary import CATEGORIES as categories
    markets = Market.objects.bulk_create(
        [
            Market(
                market_id=f"bench-{i}", title=f"Bench market {i}", category=categories[i % len(categories)],
                probability=rng.random(), volume_24h=rng.lognormvariate(8, 2), created_at=timezone.now(),
            )
            for i in range(n_markets)
        ]
    )
    Through = Market.tags.through
    Through.objects.bulk_create(
        [Through(market_id=m.pk, tag_id=t.pk) for m in markets for t in rng.sample(tags, 3)]
    )
    return [m.market_id for m in markets]


EVENT_TYPES = ["click", "view_market", "scroll_past", "bookmark", "participate", "skip_fast", "share"]
COUNTRIES = ["US", "IL", "GB", "DE", "BR", ""]


def make_events(n, market_ids, rng):
    from django.utils import timezone

    now = timezone.now()
    events = []
    for _ in range(n):
        event = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "event_type": rng.choice(EVENT_TYPES),
            "market_id": rng.choice(market_ids),
            "occurred_at": (now - timedelta(seconds=rng.randint(0, 3600))).isoformat(),
            "section": "grid",
            "position": rng.randint(0, 30),
        }
        if event["event_type"] == "view_market":
            event["dwell_ms"] = rng.randint(500, 60_000)
        if country := rng.choice(COUNTRIES):
            event["geo_country"] = country
        events.append(event)
    return events


def run(handler, events, batch_size, users):
    """Send `events` in requests of `batch_size`, each request from the next user; returns events/s."""
    requests = [
        (users[i % len(users)], events[start : start + batch_size])
        for i, start in enumerate(range(0, len(events), batch_size))
    ]
    started = time.perf_counter()
    for user_key, chunk in requests:
        body = json.dumps({"events": chunk} if batch_size > 1 else chunk[0]).encode()
        status, content = wsgi_request(handler, "POST", "/api/track", body=body,
                                       headers={"Content-Type": "application/json", "X-User-Key": user_key})
        answer = json.loads(content)
        assert status == 200 and answer["rejected"] == 0, (status, answer)
    return len(events) / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=2000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--events", type=int, default=5000, help="events per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()

    connection = setup()
    try:
        from django.core.handlers.wsgi import WSGIHandler

        from feedproject.identity import anonymous_key_sign

        rng = random.Random(7)
        market_ids = make_catalog(args.markets, 300, rng)
        users = [anonymous_key_sign(f"a:{uuid.UUID(int=rng.getrandbits(128)).hex}") for _ in range(args.users)]
        handler = WSGIHandler()
        run(handler, make_events(500, market_ids, rng), args.batch, users)  # warm-up
        batched, single = [], []
        for _ in range(args.runs):
            batched.append(run(handler, make_events(args.events, market_ids, rng), args.batch, users))
            single.append(run(handler, make_events(args.events // 5, market_ids, rng), 1, users))
        print(f"database: {connection.vendor}, markets: {args.markets}, users: {args.users}, runs: {args.runs}")
        print(f"batches of {args.batch}: median {median(batched):,.0f} events/s  runs: "
              + ", ".join(f"{v:,.0f}" for v in batched))
        print(f"one per request (baseline): median {median(single):,.0f} events/s  runs: "
              + ", ".join(f"{v:,.0f}" for v in single))
        print(f"ratio: {median(batched) / median(single):.1f}x")
    finally:
        teardown(connection)


if __name__ == "__main__":
    main()
