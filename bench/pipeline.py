"""The beat pipeline at production size (issue 4): velocity, trending, affinity decay, session expiry.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pipeline_bench .venv/bin/python bench/pipeline.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pipeline_bench .venv/bin/python bench/pipeline.py --events 2000000

Builds a throw-away database (test_<name>) with --markets markets, --countries countries and
--events events over the last 24 h, stored the way ingestion stores them (5-minute
MarketActivity buckets per market and scope, MarketActivityUser sets), a snapshot every 15 min
per market for 24 h, and --users users x --topics long-term affinities (plus a session horizon
for 10 % of them). The events are aggregated in numpy and loaded with COPY: the bench times
the refreshes, not ingestion (bench/ingest.py does that).

Each task is then timed in a fresh process, so its peak RSS is its own: velocity --runs times a
minute apart and trending five minutes apart (the first run fills an empty table, the next ones
recompute everything and write what changed), session expiry
once, decay once over rows last written up to 30 days ago (the backlog case: nearly every row
is rewritten), then "decay-hourly" runs an hour apart in the steady state, where the rows'
last rebase is spread over the ~10 h it takes a long-term value to move by 1 %. Prints medians.
"""
import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

import numpy as np
from _django import median, setup, teardown

BUCKET = 300
HERE = Path(__file__).resolve().parent


def _copy(connection, table, columns, rows):
    with connection.connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def generate(connection, args, now):
    """Fill the database; returns counts of what was written."""
    from markets.models import Market

    rng = np.random.default_rng(args.seed)
    n_markets, n_events = args.markets, args.events
    markets = Market.objects.bulk_create(
        [Market(market_id=f"bench-{i}", title=f"Bench market {i}", category=f"cat-{i % 12}",
                probability=float(p), volume_24h=1000.0, volume_total=float(v), participant_count=int(n),
                created_at=now - timedelta(days=10), status="open" if i % 20 else "closed")
         for i, (p, v, n) in enumerate(zip(rng.uniform(0.02, 0.98, n_markets), rng.lognormal(11, 1.5, n_markets),
                                          rng.integers(10, 50_000, n_markets), strict=True))],
        batch_size=5000,
    )
    pks = np.array([m.pk for m in markets])

    # Events: popularity is skewed (a few markets get most traffic); 2 % of markets spike in the
    # last hour; users have a fixed country (50 countries, skewed), one in ten none.
    popularity = 1.0 / (np.arange(n_markets) + 10.0) ** 0.9
    popularity /= popularity.sum()
    market = rng.choice(n_markets, size=n_events, p=popularity)
    seconds = rng.uniform(0, 24 * 3600, n_events)
    spiking = rng.choice(n_markets, size=n_markets // 50, replace=False)
    in_spike = rng.random(n_events) < 0.05
    market[in_spike] = rng.choice(spiking, size=in_spike.sum())
    seconds[in_spike] = rng.uniform(0, 3600, in_spike.sum())
    user = rng.integers(0, args.users, n_events)
    country_weights = 1.0 / (np.arange(args.countries) + 1.0)
    user_country = rng.choice(args.countries, size=args.users, p=country_weights / country_weights.sum())
    user_country[rng.random(args.users) < 0.1] = -1
    country = user_country[user]
    # kind: 0 impression, 1 view_market, 2 click, 3 participate, 4 other positive, 5 negative
    kind = rng.choice(6, size=n_events, p=[0.55, 0.15, 0.12, 0.05, 0.05, 0.08])
    current_bucket = int(now.timestamp()) // BUCKET * BUCKET
    bucket_epoch = (int(now.timestamp()) - seconds.astype(np.int64)) // BUCKET * BUCKET
    bucket = (current_bucket - bucket_epoch) // BUCKET  # 0 = the current bucket
    n_buckets = int(bucket.max()) + 1
    bucket_time = [datetime.fromtimestamp(current_bucket - b * BUCKET, tz=dt_timezone.utc) for b in range(n_buckets)]

    activity_rows = user_rows = 0
    scope_names = ["global"] + [chr(65 + c // 26) + chr(65 + c % 26) for c in range(args.countries)]
    for scope_of_event in (np.zeros(n_events, dtype=np.int64), country + 1):
        keep = scope_of_event >= 1 if scope_of_event.any() else np.ones(n_events, dtype=bool)
        m, s, b, k, u = market[keep], scope_of_event[keep], bucket[keep], kind[keep], user[keep]
        key = (m.astype(np.int64) * (args.countries + 1) + s) * n_buckets + b
        keys, inverse = np.unique(key, return_inverse=True)
        counts = {name: np.bincount(inverse, weights=(k == code), minlength=len(keys)).astype(np.int64)
                  for name, code in (("impressions", 0), ("views", 1), ("clicks", 2), ("trades", 3))}
        counts["engagements"] = np.bincount(
            inverse, weights=((k >= 1) & (k <= 4)), minlength=len(keys)
        ).astype(np.int64)
        km, ks, kb = (
            keys // ((args.countries + 1) * n_buckets), keys // n_buckets % (args.countries + 1), keys % n_buckets
        )
        _copy(connection, "tracking_marketactivity",
              ["market_id", "scope", "bucket_start", "views", "clicks", "trades", "impressions", "engagements"],
              zip(pks[km].tolist(), [scope_names[i] for i in ks.tolist()], [bucket_time[i] for i in kb.tolist()],
                  counts["views"].tolist(), counts["clicks"].tolist(), counts["trades"].tolist(),
                  counts["impressions"].tolist(), counts["engagements"].tolist(), strict=True))
        activity_rows += len(keys)
        users_key, user_inverse = np.unique(key * args.users + u, return_inverse=True)
        user_engagements = np.bincount(user_inverse, weights=((k >= 1) & (k <= 4)), minlength=len(users_key))
        ukey, uu = users_key // args.users, users_key % args.users
        um, us, ub = (
            ukey // ((args.countries + 1) * n_buckets), ukey // n_buckets % (args.countries + 1), ukey % n_buckets
        )
        _copy(connection, "tracking_marketactivityuser",
              ["market_id", "scope", "bucket_start", "user_key", "engagements"],
              zip(pks[um].tolist(), [scope_names[i] for i in us.tolist()], [bucket_time[i] for i in ub.tolist()],
                  [f"a:{i}" for i in uu.tolist()], user_engagements.astype(np.int64).tolist(), strict=True))
        user_rows += len(users_key)

    # Snapshots every 15 min for 24 h: a random walk in logit space ending at today's odds.
    steps = 97
    logit_now = np.log(np.array([m.probability for m in markets]) / (1 - np.array([m.probability for m in markets])))
    walk = np.cumsum(rng.normal(0, 0.05, (n_markets, steps)), axis=1)
    logits = logit_now[:, None] + walk - walk[:, -1:]
    probabilities = np.clip(1 / (1 + np.exp(-logits)), 0.001, 0.999)
    taken = [now - timedelta(minutes=15 * (steps - 1 - j)) for j in range(steps)]
    volume_total = np.array([m.volume_total for m in markets])
    _copy(connection, "markets_marketsnapshot",
          ["market_id", "taken_at", "probability", "volume_24h", "volume_total", "trades_24h", "participant_count"],
          ((int(pks[i]), taken[j], float(probabilities[i, j]), 1000.0,
            float(volume_total[i] * (0.9 + 0.1 * j / steps)), 200 + j, 100 + j)
           for i in range(n_markets) for j in range(steps)))

    # Affinities: users x topics in the long horizon, updated over the last 30 days; 10 % of the
    # users also have a session horizon (3 topics), and a profile last active 0-2 h ago.
    topic_pool = 300
    updated = now - timedelta(days=30)
    span = 30 * 24 * 3600

    def affinity_rows():
        r = np.random.default_rng(args.seed + 1)
        for start in range(0, args.users, 10_000):
            users = np.arange(start, min(start + 10_000, args.users))
            for k in range(args.topics):
                topics = (users * 7 + k * 11) % topic_pool
                scores = r.lognormal(0, 1.2, len(users)) * np.where(r.random(len(users)) < 0.15, -1, 1)
                ages = r.uniform(0, span, len(users))
                for u, t, sc, age in zip(users.tolist(), topics.tolist(), scores.tolist(), ages.tolist(), strict=True):
                    yield (f"a:{u}", "long", "tag" if t >= 12 else "category", f"topic-{t}", sc,
                           updated + timedelta(seconds=span - age))
        for u in range(0, args.users, 10):
            for t in range(3):
                yield (f"a:{u}", "session", "tag", f"topic-{t}", 1.5, now - timedelta(minutes=u % 120))

    _copy(connection, "personalization_topicaffinity",
          ["user_key", "horizon", "topic_type", "topic_value", "score", "updated_at"], affinity_rows())
    _copy(connection, "personalization_userprofile",
          ["user_key", "created_at", "last_active_at", "total_interactions", "total_impressions", "geo_country",
           "category_dwell"],
          ((f"a:{u}", now - timedelta(days=40), now - timedelta(minutes=u % 120), 1, 1, "", "{}")
           for u in range(args.users)))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"activity_rows": activity_rows, "activity_user_rows": user_rows, "snapshots": n_markets * steps,
            "affinities": args.users * args.topics + (args.users // 10) * 3}


def measure(task, runs, now):
    """Child process: run `task` `runs` times; print seconds per run, peak RSS and the last result."""
    sys.path.insert(0, str(HERE.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedproject.settings")
    import django

    django.setup()
    from personalization.decay import affinities_decay_materialize, sessions_expire
    from tracking.velocity import market_trending_refresh, market_velocity_refresh

    calls = {
        "velocity": lambda i: market_velocity_refresh(now=now + timedelta(minutes=i)),
        "trending": lambda i: market_trending_refresh(now=now + timedelta(minutes=5 * i), min_users=5),
        "decay": lambda i: affinities_decay_materialize(now=now + timedelta(hours=i + 1)),
        "decay-hourly": lambda i: affinities_decay_materialize(now=now + timedelta(hours=i + 1)),
        "sessions": lambda i: sessions_expire(now=now),
    }
    if task == "decay-hourly":
        _steady_state(now)
    times, result = [], None
    for i in range(runs):
        started = time.perf_counter()
        result = calls[task](i)
        times.append(time.perf_counter() - started)
    print(json.dumps({"times": times, "rss_mb": _peak_rss_mb(), "result": result}))


def _peak_rss_mb():
    """This process's peak RSS. Not getrusage: after fork + exec, ru_maxrss starts from the
    parent's peak, while VmHWM belongs to this program's own memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _steady_state(now):
    """Spread the long-term rows' updated_at over the last rebase period, values unchanged: the
    state in which hourly runs keep finding the rows that crossed the tolerance since the last run."""
    from django.db import connection

    from feedproject.db import seconds_between
    from personalization.decay import rebase_age
    from personalization.ranking.affinity import HALF_LIFE, decayed_sql

    period = rebase_age("long").total_seconds()
    value, value_params = decayed_sql(
        "score", seconds_between("new_at", "updated_at"), repr(HALF_LIFE["long"].total_seconds())
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE personalization_topicaffinity
               SET score = {value}, updated_at = new_at
               FROM (SELECT id AS row_id, %s::timestamptz - make_interval(secs => random() * %s) AS new_at
                     FROM personalization_topicaffinity WHERE horizon = 'long') spread
               WHERE id = row_id""",
            [*value_params, now, period],
        )
        cursor.execute("VACUUM ANALYZE personalization_topicaffinity")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=10_000)
    parser.add_argument("--countries", type=int, default=50)
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the last 24 h")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--topics", type=int, default=30, help="long-term affinities per user")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", action="append", help="time only these tasks (velocity, trending, sessions, "
                        "decay, decay-hourly); repeatable")
    parser.add_argument("--keep", action="store_true", help="keep the database (test_<name>) for --reuse")
    parser.add_argument("--reuse", action="store_true", help="time against the database a --keep run left")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure, args.runs, datetime.fromisoformat(args.now))

    connection = _reuse() if args.reuse else setup()
    try:
        if connection.vendor != "postgresql":
            print("note: the targets are for PostgreSQL; this is", connection.vendor)
        if args.reuse:
            from markets.models import MarketSnapshot

            now = MarketSnapshot.objects.latest().taken_at
        else:
            now = datetime.now(dt_timezone.utc).replace(microsecond=0)
            started = time.perf_counter()
            counts = generate(connection, args, now)
            print(f"data: {args.markets:,} markets, {args.countries} countries, {args.events:,} events in 24 h, "
                  f"{args.users:,} users x {args.topics} topics; "
                  + ", ".join(f"{k} {v:,}" for k, v in counts.items())
                  + f" (generated in {time.perf_counter() - started:.0f} s)")
        settings = connection.settings_dict
        env = dict(os.environ)
        if connection.vendor == "postgresql":
            env["DATABASE_URL"] = (f"postgres://{settings['USER']}:{settings['PASSWORD'] or ''}@{settings['HOST']}:"
                                   f"{settings['PORT'] or 5432}/{settings['NAME']}")
        connection.close()
        for task, runs in (("velocity", args.runs), ("trending", args.runs), ("sessions", 1), ("decay", 1),
                           ("decay-hourly", min(args.runs, 3))):
            if args.only and task not in args.only:
                continue
            output = subprocess.run(
                [sys.executable, __file__, "--measure", task, "--runs", str(runs), "--now", now.isoformat()],
                env=env, check=True, capture_output=True, text=True,
            ).stdout
            report = json.loads(output.strip().splitlines()[-1])
            times = report["times"]
            if task in ("velocity", "trending") and len(times) > 1:
                # The first run writes every row into an empty table; the next ones run a minute
                # (velocity) or five (trending) later, as beat does, and write what changed.
                label = f"first {times[0]:.2f} s, then median {median(times[1:]):6.2f} s"
            else:
                label = f"median {median(times):6.2f} s"
            print(f"{task:12} {label}  runs: {', '.join(f'{t:.2f}' for t in times)}  "
                  f"peak RSS {report['rss_mb']:.0f} MB  {report['result']}")
    finally:
        if not (args.keep or args.reuse):
            teardown(connection)


def _reuse():
    """Django on the test_<name> database a --keep run left, without recreating it."""
    sys.path.insert(0, str(HERE.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedproject.settings")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))  # a throw-away process
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    import django
    from django.conf import settings

    django.setup()
    from django.db import connection

    connection.close()
    settings.DATABASES["default"]["NAME"] = connection.settings_dict["NAME"] = (
        "test_" + connection.settings_dict["NAME"]
    )
    return connection


if __name__ == "__main__":
    main()
