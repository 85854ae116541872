"""Feed latency: GET /api/feed?limit=20 served in process on PostgreSQL (issue 3).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/feed.py --markets 10000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/feed.py --markets 50000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/feed.py --markets 10000 --model

The bench creates and drops test_<name> beside the named database (which need not exist): keep
it apart from the test suite's (`.../test` gives pytest's test_test).

A generated catalog of the Polymarket catalog's shape (the site's 9 categories, ~2,600 tags with a
long tail, 1-6 tags a market), velocity rows for every market and 50 countries, and a user
with 300 affinities, 2,000 impressions over 7 days and 200 interactions. Reports the
server-side p50 / p95 of the whole request (Django + DRF + loading + ranking, through the
WSGI handler, no network) until its body is written, the peak RSS, and, in the same run,
interleaved: the same request without the served log, the same request without the read of
hits and misses per topic, the time until the worker is free (the served log is written after
the body), and the baseline: the final score computed the naive way, with per-market queries
for depth and followup as the old system did.
"""
import argparse
import random
import time
import uuid
from datetime import timedelta

import numpy as np
from _django import median, serve_in_child, service_create, setup, teardown

COUNTRIES = [f"C{i:02d}" for i in range(48)] + ["US", "IL"]
USER = "u:bench"


def build_catalog(n, rng, now, title=lambda i: f"Will bench event {i} happen?"):
    from feedproject.vocabulary import CATEGORIES
    from markets.models import Market, MarketVelocity, Tag

    tags = Tag.objects.bulk_create([Tag(slug=f"tag-{i}", label=f"Tag {i}") for i in range(2600)], batch_size=5000)
    weights = 1 / np.arange(1, len(tags) + 1)  # Zipf-like: a few big tags, a long tail
    weights /= weights.sum()
    np_rng = np.random.default_rng(1)
    markets = Market.objects.bulk_create(
        [
            Market(
                market_id=f"bench-{i}", title=title(i), category=rng.choice(CATEGORIES),
                probability=rng.uniform(0.02, 0.98), volume_24h=rng.lognormvariate(8, 2),
                volume_total=rng.lognormvariate(10, 2), image_url=f"https://img.example/{i}.png" if i % 4 else "",
                created_at=now - timedelta(hours=rng.uniform(0, 24 * 60)),
            )
            for i in range(n)
        ],
        batch_size=5000,
    )
    Through = Market.tags.through
    links = []
    for m in markets:
        for t in set(np_rng.choice(len(tags), size=rng.randint(1, 6), p=weights).tolist()):
            links.append(Through(market_id=m.pk, tag_id=tags[t].pk))
    Through.objects.bulk_create(links, batch_size=10000)
    velocities = [
        MarketVelocity(market=m, scope="global", trending_score=rng.random(), rising_score=rng.random() * 0.5,
                       unique_users_24h=(users := rng.randint(0, 50)), engaged_users_24h=users, computed_at=now)
        for m in markets
    ]
    for country in COUNTRIES:  # local activity on a tenth of the markets per country
        velocities += [
            MarketVelocity(market=m, scope=country, trending_score=rng.random(),
                           unique_users_24h=(users := rng.randint(0, 20)), engaged_users_24h=users, computed_at=now)
            for m in rng.sample(markets, n // 10)
        ]
    MarketVelocity.objects.bulk_create(velocities, batch_size=10000)
    return markets


def build_user(markets, rng, now):
    from feedproject.vocabulary import CATEGORIES
    from personalization.models import TopicAffinity, UserMarketState, UserProfile
    from tracking.models import Impression, Interaction

    UserProfile.objects.create(
        user_key=USER, created_at=now - timedelta(days=90), last_active_at=now - timedelta(minutes=5),
        session_started_at=now - timedelta(minutes=20), total_interactions=200, geo_country="IL",
        category_dwell={c: {"count": 10, "total_ms": rng.randint(20_000, 400_000)} for c in CATEGORIES},
    )
    topics = [("category", c) for c in CATEGORIES] + [("tag", f"tag-{i}") for i in range(142)]
    TopicAffinity.objects.bulk_create(
        [
            TopicAffinity(user_key=USER, horizon=h, topic_type=t, topic_value=v, score=rng.uniform(-3, 12),
                          updated_at=now - timedelta(hours=rng.uniform(0, 200) if h == "long" else 0.2))
            for h in ("long", "session") for t, v in topics
        ][:300]
    )
    seen = rng.sample(markets, 700)
    impressions = [
        Impression(event_id=uuid.uuid4(), user_key=USER, market=rng.choice(seen), section="grid", position=3,
                   shown_at=now - timedelta(hours=rng.uniform(0, 24 * 7)), received_at=now)
        for _ in range(2000)
    ]
    Impression.objects.bulk_create(impressions, batch_size=5000)
    Interaction.objects.bulk_create(
        [
            Interaction(event_id=uuid.uuid4(), user_key=USER, market=rng.choice(seen),
                        event_type=rng.choice(["click", "view_market", "bookmark", "skip_fast"]),
                        occurred_at=now - timedelta(hours=rng.uniform(0, 48)), received_at=now, dwell_ms=12000)
            for _ in range(200)
        ]
    )
    last = {}
    for imp in impressions:
        last[imp.market_id] = max(last.get(imp.market_id, imp.shown_at), imp.shown_at)
    UserMarketState.objects.bulk_create(
        [
            UserMarketState(user_key=USER, market_id=pk, first_shown_at=at - timedelta(days=1), last_shown_at=at,
                            impressions_total=3, probability_at_last_shown=rng.random(), volume_24h_at_last_shown=100,
                            last_positive_at=at if rng.random() < 0.2 else None, hidden=rng.random() < 0.02,
                            updated_at=now)
            for pk, at in last.items()
        ]
    )


def naive_feed(now, limit=20):
    """The old system: the final score per market, with a query per market for depth and one for followup."""
    from django.db.models import Avg

    from markets.models import Market, MarketVelocity
    from personalization.models import TopicAffinity, UserMarketState
    from personalization.ranking.affinity import HALF_LIFE, decay_factor
    from tracking.models import Interaction

    long = {}
    for a in TopicAffinity.objects.filter(user_key=USER, horizon="long"):
        long[(a.topic_type, a.topic_value)] = a.score * decay_factor(now - a.updated_at, HALF_LIFE["long"])
    top = max([v for v in long.values() if v > 0], default=0) + 5
    trending = dict(MarketVelocity.objects.filter(scope="global").values_list("market_id", "trending_score"))
    scored = []
    for m in Market.objects.filter(status="open").prefetch_related("tags"):
        tags = [max(long.get(("tag", t.slug), 0), 0) / top for t in m.tags.all()]
        interest = 0.5 * max(long.get(("category", m.category), 0), 0) / top
        interest += 0.5 * (0.7 * max(tags, default=0) + 0.3 * (sum(tags) / len(tags) if tags else 0))
        dwell = Interaction.objects.filter(user_key=USER, market__category=m.category).aggregate(d=Avg("dwell_ms"))["d"]
        depth = min(1.0, (dwell or 0) / 30000)
        state = UserMarketState.objects.filter(user_key=USER, market=m).first()
        followup = 0.0
        if state and state.last_positive_at and state.probability_at_last_shown is not None:
            followup = min(1.0, abs(m.probability - state.probability_at_last_shown) / 0.2)
        age_h = (now - m.created_at).total_seconds() / 3600
        personal = 0.35 * interest + 0.15 * depth + 0.10 * (0.3 + 0.7 * 2 ** (-age_h / 72)) + 0.10 * followup
        scored.append((personal + 0.40 * trending.get(m.pk, 0), m.pk))
    scored.sort(reverse=True)
    return scored[:limit]


def build_model(now):
    """A RankingModel fitted on synthetic rows over every component, activated: what serving would hold."""
    from personalization.models import RankingModel
    from personalization.ranking import learned
    from personalization.ranking.features import COMPONENTS
    from personalization.training import ranking_model_activate

    rng = np.random.default_rng(5)
    n = 20_000
    components = {name: rng.random(n) for name in COMPONENTS}
    logit = -3 + 2 * components["interest"] + components["similarity"] - components["cooldown"]
    events = [({"click"} | ({"participate"} if u < 0.3 * p else set())) if u < p else ({"hide"} if u > 0.99 else set())
              for p, u in zip(1 / (1 + np.exp(-logit)), rng.random(n), strict=True)]
    rows = learned.Rows(components=components, pool=np.array(["personal"] * n, dtype=object),
                        position=rng.integers(0, 20, n).astype(float), formula_score=rng.random(n),
                        served_at=np.arange(n, dtype=float), events=events)
    payload, report = learned.fit(rows, names=list(COMPONENTS))
    model = RankingModel.objects.create(version=1, status=RankingModel.Status.READY, trained_at=now,
                                        window_start=now, window_end=now, trigger="command", report=report,
                                        payload=payload)
    ranking_model_activate(model=model, now=now)


def peak_rss_mb():
    """This process's high-water RSS (VmHWM). Not ru_maxrss: Linux carries that across exec from the parent."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values, q):
    return float(np.percentile(values, q))


def serve(args):
    """In a fresh process on the prepared database: what a web process would hold and spend."""
    import json

    from _django import serving_setup, wsgi_request

    handler, headers = serving_setup()
    from django.utils import timezone
    url = f"/api/feed?limit=20&user_key={USER}"
    t0 = time.perf_counter()
    assert wsgi_request(handler, "GET", url, headers=headers)[0] == 200
    first = (time.perf_counter() - t0) * 1000
    for _ in range(20):
        wsgi_request(handler, "GET", url, headers=headers)
    # Interleaved, so both see the same machine: the feed as served, and the same request without
    # the served log. Latency is until the body is written (what the client waits for); the log is
    # written after that, so the time until the server is free again is reported too.
    # --model: even requests the formula, odd the learned model (both log what they served). Otherwise
    # three variants: as served, without the served log, without the read of hits and misses per topic.
    from personalization import apis, selectors, services
    from personalization.selectors import ranking_model_current

    formula, learned_ranker = (lambda params, now: None), (lambda params, now: ranking_model_current(now=now))
    topic_hits_count = selectors.topic_hits_count
    variants = 2 if args.model else 3
    timings, unlogged, no_hits, worker_ms, with_model = [], [], [], [], []
    for k in range(variants * args.requests):
        if args.model:
            services._ranker = formula if k % 2 == 0 else learned_ranker
        else:
            apis.feed_served_record = services.feed_served_record if k % 3 != 1 else (lambda result: None)
            selectors.topic_hits_count = topic_hits_count if k % 3 != 2 else (lambda *args, **kwargs: ({}, {}))
        written = []
        t0 = time.perf_counter()
        status, body = wsgi_request(handler, "GET", url, headers=headers, body_written=written)
        done = time.perf_counter()
        bucket = (timings, with_model)[k % 2] if args.model else (timings, unlogged, no_hits)[k % 3]
        bucket.append((written[0] - t0) * 1000)
        if k % variants == 0:
            worker_ms.append((done - t0) * 1000)
        assert status == 200
        if args.model and k == 1:
            assert json.loads(body)["model_version"] == 1, "the learned model did not rank"
    apis.feed_served_record, selectors.topic_hits_count = services.feed_served_record, topic_hits_count
    rss_mb = peak_rss_mb()
    baseline = []
    for _ in range(args.baseline_runs):
        t0 = time.perf_counter()
        naive_feed(timezone.now())
        baseline.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"first": first, "timings": timings, "unlogged": unlogged, "no_hits": no_hits,
                      "worker": worker_ms, "with_model": with_model, "rss_mb": rss_mb, "baseline": baseline}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--model", action="store_true", help="interleave the formula with the learned ranker")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)


    connection = setup()
    try:
        from django.utils import timezone

        rng = random.Random(11)
        now = timezone.now()
        t0 = time.perf_counter()
        markets = build_catalog(args.markets, rng, now)
        build_user(markets, rng, now)
        if args.model:
            build_model(now)
        service_create()
        del markets
        print(f"setup: {args.markets} markets in {time.perf_counter() - t0:.0f} s")
        result = serve_in_child(connection, __file__, ["--requests", str(args.requests), "--baseline-runs",
                                                        str(args.baseline_runs), *(["--model"] if args.model else [])])
        timings, baseline = result["timings"], result["baseline"]
        p50, p95 = percentile(timings, 50), percentile(timings, 95)
        print(f"first request (loads the catalog arrays): {result['first']:.0f} ms")
        print(f"database: {connection.vendor}, markets: {args.markets}, requests: {args.requests}")
        print(f"GET /api/feed?limit=20: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {percentile(timings, 99):.1f} ms")
        if args.model:
            model = result["with_model"]
            print(f"  same run, ranked by the learned model: p50 {percentile(model, 50):.1f} ms, "
                  f"p95 {percentile(model, 95):.1f} ms; p95 ratio model / formula "
                  f"{percentile(model, 95) / p95:.2f}")
        else:
            unlogged, no_hits = result["unlogged"], result["no_hits"]
            print(f"  same run, without the served log: p50 {percentile(unlogged, 50):.1f} ms, "
                  f"p95 {percentile(unlogged, 95):.1f} ms")
            print(f"  same run, without the hits-and-misses read: p50 {percentile(no_hits, 50):.1f} ms, "
                  f"p95 {percentile(no_hits, 95):.1f} ms")
        worker = result["worker"]
        print(f"  until the worker is free (the served log written after the body): p50 "
              f"{percentile(worker, 50):.1f} ms, p95 {percentile(worker, 95):.1f} ms")
        print(f"peak RSS of the serving process: {result['rss_mb']:.0f} MB")
        if baseline:
            print(f"baseline (naive final score, per-market queries): median {median(baseline):.0f} ms over "
                  f"{args.baseline_runs} runs; ratio {median(baseline) / p50:.0f}x the p50")
    finally:
        teardown(connection)


if __name__ == "__main__":
    main()
