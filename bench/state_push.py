"""Market-state push throughput: POST /api/markets/state against one PATCH per update, in one process (issue 12).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/state_push.py

Each run makes one list of updates (every market's state at a later moment; one in twenty older
than the market's state, so stored as history) and sends it twice, to two copies of the catalog:
in batches of 500 to POST /api/markets/state, and the first `--patch-updates` of it one
PATCH /api/markets/{id} each, the same-run baseline. Both go through the whole Django + DRF
stack, the WSGI handler gunicorn calls, with every middleware, minus the socket
(`_django.wsgi_request`). Prints the median updates/s of the runs of each.
"""
import argparse
import json
import random
import time
from datetime import timedelta

from _django import median, setup, teardown, wsgi_request


def make_catalog(n_markets, rng, now):
    """Two copies of the same markets, "batch-i" and "patch-i"; returns the ids of each."""
    from feedproject.vocabulary import CATEGORIES
    from markets.models import Market

    Market.objects.bulk_create([
        Market(market_id=f"{copy}-{i}", title=f"Bench market {i}", category=CATEGORIES[i % len(CATEGORIES)],
               probability=0.5, volume_24h=1000.0, volume_total=10_000.0, created_at=now, state_at=now)
        for copy in ("batch", "patch") for i in range(n_markets)
    ])
    return [f"batch-{i}" for i in range(n_markets)], [f"patch-{i}" for i in range(n_markets)]


def make_updates(n, n_markets, rng, start):
    """(market index, update without market_id) in sending order: times move on 1 ms an update."""
    updates = []
    for k in range(n):
        at = start + timedelta(milliseconds=k)
        if rng.random() < 0.05:
            at -= timedelta(minutes=rng.randint(1, 30))  # late: older than the market's state
        update = {"at": at.isoformat(), "probability": round(rng.random(), 4),
                  "volume_24h": round(rng.lognormvariate(8, 2), 2)}
        if rng.random() < 0.5:
            update["volume_total"] = round(rng.lognormvariate(10, 2), 2)
            update["trades_24h"] = rng.randint(0, 5000)
            update["participant_count"] = rng.randint(0, 20_000)
        updates.append((rng.randrange(n_markets), update))
    return updates


def run_batched(handler, headers, market_ids, updates, batch_size):
    started = time.perf_counter()
    for start in range(0, len(updates), batch_size):
        body = json.dumps({"updates": [{"market_id": market_ids[i], **u}
                                       for i, u in updates[start : start + batch_size]]}).encode()
        status, content = wsgi_request(handler, "POST", "/api/markets/state", body=body, headers=headers)
        answer = json.loads(content)
        assert status == 200 and answer["rejected"] == 0, (status, content[:500])
    return len(updates) / (time.perf_counter() - started)


def run_patches(handler, headers, market_ids, updates):
    started = time.perf_counter()
    for i, update in updates:
        status, content = wsgi_request(handler, "PATCH", f"/api/markets/{market_ids[i]}",
                                       body=json.dumps(update).encode(), headers=headers)
        assert status == 200, (status, content[:500])
    return len(updates) / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=5000, help="updates per run, batched")
    parser.add_argument("--patch-updates", type=int, default=1000, help="of those, sent one PATCH each")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    connection = setup()
    try:
        from django.contrib.auth.models import Permission, User
        from django.core.handlers.wsgi import WSGIHandler
        from django.utils import timezone
        from rest_framework.authtoken.models import Token

        from markets.models import MarketSnapshot

        rng = random.Random(12)
        now = timezone.now()
        # Every run's moments lie between the catalog's state (an hour ago) and now.
        clock = now - timedelta(hours=1)
        batch_ids, patch_ids = make_catalog(args.markets, rng, clock)
        user = User.objects.create_user("bench-trading-backend")
        user.user_permissions.add(Permission.objects.get(codename="change_market"))
        headers = {"Content-Type": "application/json",
                   "Authorization": f"Token {Token.objects.create(user=user).key}"}
        handler = WSGIHandler()
        step = timedelta(milliseconds=args.updates + 1000)
        warm = make_updates(500, args.markets, rng, clock)
        run_batched(handler, headers, batch_ids, warm, args.batch)
        run_patches(handler, headers, patch_ids, warm[:100])
        batched, single = [], []
        for _ in range(args.runs):
            clock += step
            updates = make_updates(args.updates, args.markets, rng, clock)
            batched.append(run_batched(handler, headers, batch_ids, updates, args.batch))
            single.append(run_patches(handler, headers, patch_ids, updates[: args.patch_updates]))
        print(f"database: {connection.vendor}, markets: {args.markets} (x2), runs: {args.runs}, "
              f"updates a run: {args.updates} batched, {args.patch_updates} by PATCH; "
              f"snapshots written: {MarketSnapshot.objects.count():,}")
        print(f"batches of {args.batch}: median {median(batched):,.0f} updates/s  runs: "
              + ", ".join(f"{v:,.0f}" for v in batched))
        print(f"one PATCH per update (baseline): median {median(single):,.0f} updates/s  runs: "
              + ", ".join(f"{v:,.0f}" for v in single))
        print(f"ratio: {median(batched) / median(single):.1f}x")
    finally:
        teardown(connection)


if __name__ == "__main__":
    main()
