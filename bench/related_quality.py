"""Related markets on a real catalog: how often the surface's relations find markets of the same event
or series, or that share a tag (issue 14). Pure ranking code, no database.

    .venv/bin/python bench/related_quality.py ../shared/data/polymarket-gamma/markets.csv.gz
    .venv/bin/python bench/related_quality.py PATH --queries 2000 --seed 3

Builds the ranking's Catalog from the Polymarket Gamma markets export (title, category, the event's
tags, the event), then, for a seeded sample of markets X that have another market of their event or
series, ranks every other market by (a) TF-IDF content alone, (b) the same question alone (event or
title pattern), (c) the blend the related surface uses without co-engagement (this file has no
users), and reports precision@10 of "same event or series" and of "shares a tag" (the tag "all",
which Gamma puts on every event, does not count), and the scoring time per X.
"""
import argparse
import csv
import gzip
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from personalization.ranking import related  # noqa: E402
from personalization.ranking.inputs import Catalog  # noqa: E402

IGNORED_TAGS = {"all", ""}


def catalog_read(path):
    with gzip.open(path, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    categories = sorted({r["event_category"] or r["market_category"] or "Other" for r in rows})
    slugs = sorted({t for r in rows for t in r["event_tag_slugs"].split("|") if t not in IGNORED_TAGS})
    code = {s: i for i, s in enumerate(slugs)}
    tag_lists = [[code[t] for t in r["event_tag_slugs"].split("|") if t not in IGNORED_TAGS] for r in rows]
    width = max(1, max(len(t) for t in tag_lists))
    tags = np.full((len(rows), width), len(slugs), dtype=np.int64)
    for i, t in enumerate(tag_lists):
        tags[i, : len(t)] = t
    events = {e: k for k, e in enumerate(sorted({r["event_id"] for r in rows if r["event_id"]}))}
    n = len(rows)
    zeros = np.zeros(n)
    catalog = Catalog(
        pk=np.arange(1, n + 1), market_id=[r["market_id"] for r in rows], title=[r["question"] for r in rows],
        category=np.array([categories.index(r["event_category"] or r["market_category"] or "Other") for r in rows]),
        categories=categories, tags=tags, tag_count=np.array([len(t) for t in tag_lists]), tag_slugs=slugs,
        tag_labels=slugs, probability=zeros + 0.5, volume_24h=zeros, created_at=zeros, news_at=zeros + np.nan,
        event_start_at=zeros + np.nan, has_image=np.ones(n, dtype=bool), trending_global=zeros, rising=zeros,
        event=np.array([events.get(r["event_id"], -1) for r in rows], dtype=np.int64),
    )
    series = np.array([r["series_slug"] or f"-{i}" for i, r in enumerate(rows)])
    return catalog, series, tag_lists


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    catalog, series, tag_lists = catalog_read(args.path)
    related.content_matrix(catalog)
    print(f"{len(catalog):,} markets, {len(catalog.tag_slugs):,} tags; TF-IDF built in "
          f"{time.perf_counter() - started:.1f} s")
    same_event = lambda x: ((catalog.event == catalog.event[x]) & (catalog.event >= 0)) | (series == series[x])  # noqa: E731
    rng = np.random.default_rng(args.seed)
    candidates = [x for x in range(len(catalog)) if same_event(x).sum() > 1 and tag_lists[x]]
    queries = rng.choice(candidates, size=min(args.queries, len(candidates)), replace=False)
    tag_sets = [set(t) for t in tag_lists]
    variants = {
        "content (TF-IDF)": (1.0, 0.0),
        "same question (event / title pattern)": (0.0, 1.0),
        "blend (0.55 content + 0.15 question)": (related.CONTENT, related.SAME_QUESTION),
    }
    results, timings = {name: ([], []) for name in variants}, []
    matrix = catalog._related_tfidf
    for x in queries:
        t0 = time.perf_counter()
        content = np.asarray((matrix @ matrix[x].T).toarray()).ravel()
        question = (catalog.question_group == catalog.question_group[x]).astype(float)
        timings.append(time.perf_counter() - t0)
        truth_event = same_event(x)
        for name, (wc, wq) in variants.items():
            score = wc * content + wq * question + 1e-9 * rng.random(len(catalog))  # ties broken at random
            score[x] = -np.inf
            top = np.argpartition(-score, 10)[:10]
            results[name][0].append(truth_event[top].mean())
            results[name][1].append(np.mean([bool(tag_sets[i] & tag_sets[x]) for i in top]))
    print(f"{len(queries)} markets X with another market of their event or series (seed {args.seed})\n")
    print(f"{'relation':42s} {'P@10 same event or series':>27s} {'P@10 shares a tag':>19s}")
    for name, (event_hits, tag_hits) in results.items():
        print(f"{name:42s} {np.mean(event_hits):27.3f} {np.mean(tag_hits):19.3f}")
    ms = np.array(timings) * 1000
    print(f"\ncontent and question scores for one X over {len(catalog):,} markets: median {np.median(ms):.1f} ms, "
          f"p95 {np.percentile(ms, 95):.1f} ms")


if __name__ == "__main__":
    main()
