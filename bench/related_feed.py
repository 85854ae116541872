"""Related-feed latency: GET /api/feed?surface=market_related&market_id=X served in process, with the home
feed measured in the same run as the baseline (issue 14; target: the related feed's p95 <= 30 ms at 10,000
markets).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/related_feed.py --markets 10000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/related_feed.py --profile

The bench creates and drops test_<name> beside the named database (which need not exist), as bench/feed.py
(--keep leaves it, to look at query plans), and gives the serving process a cache key prefix of its own.

The setup is bench/feed.py's (the Polymarket-shaped catalog, velocity rows in 50 countries, the user with
300 affinities, 2,000 impressions and 200 interactions), with two additions the related surface reads:
- titles of words, not numbers: each market tells one of n/4 stories (4 words of a Zipf vocabulary of
  3,000, shared by its ~4 markets) plus 3 words of its own, so the TF-IDF has real neighbours;
- co-engagement traffic: --engagers users with 30 engagements each over 30 days, a third within two
  favourite stories and the rest on markets drawn by a Zipf popularity, so the most popular markets
  have thousands of engagers (the surface reads their latest 1,200 engagements, at most 300 users).
Then the beat's `personalization.coengagement_refresh` runs once, as it does every 5 minutes on a
live site: it stores the co-engagement of every market with 50 engagers or more (the reads that sum
thousands of engagements), and its time is reported. The related requests ask, in turn, for one of
the --popular most engaged markets (whose co-engagement the requests read from that table) and one
of as many markets drawn at random (most have few engagers: read live, as on the site); the home and
related requests are interleaved, so both see the same machine. Reports the server-side p50 / p95 of
the whole request through the WSGI handler until its body is written (Django + DRF + loading +
ranking, no network), the time of each stage of feed_build, the live co-engagement read of the
popular markets (what a request would pay without the beat's table), the first related request after
the catalog is warm (the TF-IDF is fitted with the catalog: it must cost nothing more), and, with
--profile, the related requests' profile.
"""
import argparse
import json
import random
import time
import uuid
from datetime import timedelta

import numpy as np
from _django import serve_in_child, service_create, setup, teardown
from feed import USER, build_catalog, build_user, peak_rss_mb, percentile

WORDS = 3000
ENGAGEMENTS_PER_USER = 30


def story_titles(n, seed=3):
    """A title per market: 4 words of its story (~4 markets a story) and 3 of its own, Zipf-drawn."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, WORDS + 1) ** 0.8
    weights /= weights.sum()
    words = [f"w{k}x" for k in range(WORDS)]  # letters around the number: TF-IDF's tokens
    stories = rng.choice(WORDS, size=(max(1, n // 4), 4), p=weights)
    own = rng.choice(WORDS, size=(n, 3), p=weights)
    story_of = rng.integers(0, len(stories), n)
    return [
        "Will " + " ".join(words[w] for w in (*stories[story_of[i]], *own[i])) + "?" for i in range(n)
    ], story_of


def build_coengagement(markets, story_of, engagers, rng, now):
    """`engagers` users, each engaging 30 times in 30 days, mostly within two favourite stories' markets."""
    from tracking.models import Interaction

    n = len(markets)
    popularity = 1 / np.arange(1, n + 1)  # market k's share of the random engagements
    popularity /= popularity.sum()
    np_rng = np.random.default_rng(7)
    by_story = {}
    for i, s in enumerate(story_of):
        by_story.setdefault(int(s), []).append(i)
    kinds = ["click", "view_market", "bookmark", "participate", "share"]
    rows = []
    for u in range(engagers):
        favourites = [by_story[int(story_of[np_rng.choice(n, p=popularity)])] for _ in range(2)]
        picks = np_rng.choice(n, size=ENGAGEMENTS_PER_USER, p=popularity).tolist()
        for k in range(0, ENGAGEMENTS_PER_USER, 3):  # a third within the favourite stories
            picks[k] = rng.choice(favourites[k % 2])
        for i in picks:
            rows.append(Interaction(
                event_id=uuid.uuid4(), user_key=f"u:co{u}", market=markets[i], event_type=rng.choice(kinds),
                occurred_at=now - timedelta(hours=rng.uniform(0, 24 * 30)), received_at=now,
            ))
    Interaction.objects.bulk_create(rows, batch_size=10000)
    return np.argsort(-popularity)


def serve(args):
    """In a fresh process on the prepared database: interleaved home and related requests."""
    import cProfile
    import io
    import pstats

    from _django import serving_setup, wsgi_request

    handler, headers = serving_setup()
    from django.utils import timezone

    from personalization.ranking.related import content_fits
    from personalization.selectors import catalog_current
    home = f"/api/feed?limit=20&user_key={USER}"
    market_ids = json.loads(args.targets)
    related = [f"/api/feed?surface=market_related&limit=20&user_key={USER}&market_id={m}" for m in market_ids]
    t0 = time.perf_counter()
    catalog_current(now=timezone.now())  # the warm: the catalog arrays and the TF-IDF
    warm_ms = (time.perf_counter() - t0) * 1000
    fits = content_fits()
    popular, drawn = related[: len(related) // 2], related[len(related) // 2:]
    t0 = time.perf_counter()
    assert wsgi_request(handler, "GET", drawn[0], headers=headers)[0] == 200
    first_related = (time.perf_counter() - t0) * 1000
    assert content_fits() == fits, "the first related request fitted the TF-IDF"
    for k in range(20):  # the warm-up asks for the drawn markets only: the popular ones start uncached
        wsgi_request(handler, "GET", home, headers=headers)
        wsgi_request(handler, "GET", drawn[k % len(drawn)], headers=headers)
    order = [u for pair in zip(popular, drawn, strict=True) for u in pair]
    from markets.models import Market
    from personalization.selectors import coengagement_compute

    live_reads = []  # what a popular market's co-engagement costs a request without the beat's row
    for market_id in market_ids[: len(market_ids) // 2]:
        pk = Market.objects.get(market_id=market_id).pk
        t0 = time.perf_counter()
        coengagement_compute(market_pk=pk, now=timezone.now())
        live_reads.append((time.perf_counter() - t0) * 1000)
    # The stages of feed_build, timed per request: where a related request spends more than a home one.
    from personalization import services

    stages = {}

    def timed(name, function):
        def run(*a, **kw):
            t0 = time.perf_counter()
            try:
                return function(*a, **kw)
            finally:
                stages[name] = stages.get(name, 0.0) + (time.perf_counter() - t0) * 1000
        return run

    for name in ("catalog_current", "user_data_load", "coengagement_load", "related_scores", "rank_feed"):
        setattr(services, name, timed(name, getattr(services, name)))
    profiler = cProfile.Profile() if args.profile else None
    timings = {"home": [], "related": []}
    breakdown = {"home": [], "related": []}
    for k in range(2 * args.requests):
        name = ("home", "related")[k % 2]
        url = home if name == "home" else order[(k // 2) % len(order)]
        written = []
        stages.clear()
        if profiler and name == "related":
            profiler.enable()
        t0 = time.perf_counter()
        status, body = wsgi_request(handler, "GET", url, headers=headers, body_written=written)
        if profiler and name == "related":
            profiler.disable()
        timings[name].append((written[0] - t0) * 1000)
        breakdown[name].append(dict(stages))
        assert status == 200, body[:300]
    profile = ""
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
        profile = out.getvalue()
    print(json.dumps({"warm": warm_ms, "first_related": first_related, "timings": timings, "breakdown": breakdown,
                      "live_reads": live_reads,
                      "rss_mb": peak_rss_mb(), "profile": profile}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300, help="of each feed")
    parser.add_argument("--engagers", type=int, default=5000, help="users of the co-engagement traffic")
    parser.add_argument("--popular", type=int, default=20, help="the most engaged markets asked for")
    parser.add_argument("--profile", action="store_true", help="print the related requests' profile")
    parser.add_argument("--keep", action="store_true", help="keep the test database (to look at query plans)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--targets", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)

    connection = setup()
    try:
        from django.utils import timezone

        rng = random.Random(11)
        now = timezone.now()
        t0 = time.perf_counter()
        titles, story_of = story_titles(args.markets)
        markets = build_catalog(args.markets, rng, now, title=lambda i: titles[i])
        build_user(markets, rng, now)
        by_popularity = build_coengagement(markets, story_of, args.engagers, rng, now)
        service_create()
        from personalization.services import coengagement_refresh

        t1 = time.perf_counter()
        stored = coengagement_refresh(now=timezone.now())
        refresh_s = time.perf_counter() - t1
        targets = [markets[i].market_id for i in by_popularity[: args.popular]]
        targets += [m.market_id for m in rng.sample(markets, args.popular)]
        del markets
        print(f"setup: {args.markets} markets, {args.engagers * ENGAGEMENTS_PER_USER:,} co-engagement "
              f"interactions in {time.perf_counter() - t0:.0f} s")
        result = serve_in_child(
            connection, __file__,
            ["--requests", str(args.requests), "--targets", json.dumps(targets),
             *(["--profile"] if args.profile else [])],
            # A cache prefix of its own: an earlier run's cached co-engagement (same pks) must not answer.
            env={"CACHE_KEY_PREFIX": f"bench-{uuid.uuid4().hex}"},
        )
        print(f"database: {connection.vendor}, markets: {args.markets}, requests: {args.requests} of each, "
              f"interleaved; related X: the {args.popular} most engaged markets and {args.popular} at random")
        print(f"catalog warm (arrays + TF-IDF): {result['warm']:.0f} ms; first related request after it: "
              f"{result['first_related']:.0f} ms")
        for name, label in (("home", "home feed (baseline)"), ("related", "related feed")):
            t = result["timings"][name]
            print(f"{label:22s} GET /api/feed ... limit=20: p50 {percentile(t, 50):.1f} ms, "
                  f"p95 {percentile(t, 95):.1f} ms, p99 {percentile(t, 99):.1f} ms")
        print("stages of feed_build (median / p95 ms a request):")
        for stage in ("catalog_current", "user_data_load", "coengagement_load", "related_scores", "rank_feed"):
            cells = []
            for feed in ("home", "related"):
                t = [b.get(stage, 0.0) for b in result["breakdown"][feed]]
                cells.append(f"{feed} {percentile(t, 50):.1f} / {percentile(t, 95):.1f}")
            print(f"  {stage:18s} " + ", ".join(cells))
        live = result["live_reads"]
        print(f"  the beat's coengagement_refresh: {stored['markets']} markets in {refresh_s:.1f} s; a popular "
              f"market's live read, which its row saves a request ({len(live)} markets): median "
              f"{percentile(live, 50):.1f} ms, max {max(live):.1f} ms")
        print(f"peak RSS of the serving process: {result['rss_mb']:.0f} MB")
        if result["profile"]:
            print(result["profile"])
    finally:
        if not args.keep:
            teardown(connection)


if __name__ == "__main__":
    main()
