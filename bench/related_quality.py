"""Related markets on a real catalog: how often the surface's relations find markets of the same event
or series, or that share a tag (issue 14). Pure ranking code, no database.

    .venv/bin/python bench/related_quality.py ../shared/data/polymarket-gamma/markets.csv.gz
    .venv/bin/python bench/related_quality.py PATH --queries 2000 --seed 3 --users 40000
    PYTHONPATH=WORDLLAMA_DIR .venv/bin/python bench/related_quality.py PATH --embedding

Builds the ranking's Catalog from the Polymarket Gamma markets export (title, category, the event's
tags, the event), and simulated engagement traffic over it (the export has no users; the generator is
`traffic_simulate`: users with 1-3 favourite events or tags who engage with several of their markets,
plus a little noise, by the square root of traded volume, 0-35 days old). Then, for a seeded sample of
markets X that have another market of their event or series, it ranks every other market by
- content alone (TF-IDF), co-engagement alone (computed from the simulated traffic as
  personalization.selectors.coengagement_load computes it from the database: X's latest 300 engagers
  of 30 days, their other engagements decayed by 7-day half-lives), the same question alone (event or
  title pattern);
- the blend without co-engagement (what a brand-new market gets) and the blend as served
  (ranking/related.py's related_scores, checked to be the same sum);
- with --embedding, WordLlama's static embedding (weights inside its wheel: docs/ranking.md) in place
  of the TF-IDF, alone and in both blends; wordllama is not a project requirement, so point
  PYTHONPATH at a folder it is installed in (`pip install --target DIR wordllama`);
and reports precision@10 of "same event or series" and of "shares a tag" (the tag "all", which Gamma
puts on every event, does not count), and the scoring time per X.
"""
import argparse
import csv
import gzip
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse

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
    volume = np.array([float(r["volume"] or 0) for r in rows])
    return catalog, series, tag_lists, volume


def traffic_simulate(catalog, tag_lists, volume, rng, users):
    """Simulated engagements over the catalog: (user, market index, age in days) arrays.

    Each user has 1-3 interests and a little noise:
    - an interest is an event (half the time: someone following an election or a match engages with 2-6
      of its outcomes) or a tag (3-8 markets carrying it: someone into NBA or Crypto), picked with
      probability proportional to the popularity of its markets;
    - noise: 1-4 engagements on markets drawn from the whole catalog by popularity;
    - a market's popularity is the square root of its traded volume (the export's `volume`), within an
      interest as well as across the catalog;
    - each engagement is 0-35 days old, uniformly (the surface reads 30 days, decayed by 7-day half-lives).
    The generator knows the events and tags (a real user sees them on the page), not the series, the
    titles or the evaluation's sample; because half the interests are events, co-engagement finding
    the same event is partly built in: how much is the assumption, not a measurement.
    """
    n = len(catalog)
    pop = np.sqrt(volume + 1.0)
    by_event, by_tag = {}, {}
    for i in range(n):
        if catalog.event[i] >= 0:
            by_event.setdefault(int(catalog.event[i]), []).append(i)
        for t in tag_lists[i]:
            by_tag.setdefault(t, []).append(i)
    groups = [np.array(v) for v in by_event.values()], [np.array(v) for v in by_tag.values()]
    group_pop = [np.array([pop[g].sum() for g in kind]) for kind in groups]
    group_p = [w / w.sum() for w in group_pop]
    market_p = pop / pop.sum()
    user, market = [], []
    for u in range(users):
        picks = list(rng.choice(n, size=rng.integers(1, 5), p=market_p))  # noise
        for _ in range(rng.integers(1, 4)):
            kind = int(rng.random() < 0.5)  # 0: an event, 1: a tag
            members = groups[kind][rng.choice(len(groups[kind]), p=group_p[kind])]
            size = min(len(members), int(rng.integers(2, 7) if kind == 0 else rng.integers(3, 9)))
            weights = pop[members] / pop[members].sum()
            picks += list(rng.choice(members, size=size, replace=False, p=weights))
        user += [u] * len(picks)
        market += picks
    return np.array(user), np.array(market), rng.uniform(0, 35, len(user))


class Coengagement:
    """Co-engagement on simulated traffic, computed as personalization.selectors.coengagement_load does:
    the market's latest 300 engagers within 30 days, their other engagements of those 30 days weighted
    2^(-age / 7 days) and summed per market, the 1,000 heaviest kept."""

    def __init__(self, user, market, age, n):
        window = age <= related.COENGAGEMENT_WINDOW.days
        user, market, age = user[window], market[window], age[window]
        half_life_days = related.COENGAGEMENT_HALF_LIFE_SECONDS / 86400
        self.weights = sparse.csr_matrix((2.0 ** (-age / half_life_days), (user, market)),
                                         shape=(user.max() + 1, n))  # duplicates summed
        order = np.lexsort((age, market))
        self.market, self.user, self.age = market[order], user[order], age[order]
        self.start = np.searchsorted(self.market, np.arange(n + 1))

    def of(self, x):
        users, ages = self.user[self.start[x]:self.start[x + 1]], self.age[self.start[x]:self.start[x + 1]]
        if not len(users):
            return {}, 0
        _, first = np.unique(users, return_index=True)  # ages are sorted: a user's first is their latest
        latest = first[np.argsort(ages[first], kind="stable")][: related.COENGAGEMENT_USERS]
        co = np.asarray(self.weights[users[latest]].sum(axis=0)).ravel()
        co[x] = 0
        top = np.argsort(-co, kind="stable")[: related.COENGAGEMENT_MARKETS]
        top = top[co[top] > 0]
        return dict(zip(top.tolist(), co[top].tolist(), strict=True)), len(latest)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", type=int, default=20_000, help="simulated users of the co-engagement traffic")
    parser.add_argument("--embedding", action="store_true",
                        help="also WordLlama's static embeddings as content (needs wordllama installed)")
    args = parser.parse_args()

    started = time.perf_counter()
    catalog, series, tag_lists, volume = catalog_read(args.path)
    related.content_matrix(catalog)
    print(f"{len(catalog):,} markets, {len(catalog.tag_slugs):,} tags; TF-IDF built in "
          f"{time.perf_counter() - started:.1f} s")
    embedded = None
    if args.embedding:
        embedded, seconds = wordllama_embed(related.content_texts(catalog))
        print(f"WordLlama embeddings built in {seconds:.1f} s ({embedded.shape[1]} dimensions)")
    rng = np.random.default_rng(args.seed)
    user, market, age = traffic_simulate(catalog, tag_lists, volume, np.random.default_rng([args.seed, 2]),
                                         args.users)
    coengagement = Coengagement(user, market, age, len(catalog))
    print(f"simulated traffic: {args.users:,} users, {len(user):,} engagements over 35 days, "
          f"{len(np.unique(market)):,} markets engaged with")
    same_event = lambda x: ((catalog.event == catalog.event[x]) & (catalog.event >= 0)) | (series == series[x])  # noqa: E731
    candidates = [x for x in range(len(catalog)) if same_event(x).sum() > 1 and tag_lists[x]]
    queries = rng.choice(candidates, size=min(args.queries, len(candidates)), replace=False)
    tag_sets = [set(t) for t in tag_lists]
    c, e, q = related.CONTENT, related.COENGAGEMENT, related.SAME_QUESTION
    variants = {  # weights of (content, co-engagement, same question)
        "content (TF-IDF)": (1.0, 0.0, 0.0),
        "co-engagement (simulated traffic)": (0.0, 1.0, 0.0),
        "same question (event / title pattern)": (0.0, 0.0, 1.0),
        f"blend without co-engagement ({c} + {q})": (c, 0.0, q),
        f"blend as served ({c} + {e} + {q})": (c, e, q),
    }
    if embedded is not None:  # the embedding's cosine in place of the TF-IDF's
        variants |= {"content (WordLlama embedding)": ("embedding", 1.0, 0.0, 0.0),
                     f"blend, WordLlama as content ({c} + {q})": ("embedding", c, 0.0, q),
                     f"blend, WordLlama as content ({c} + {e} + {q})": ("embedding", c, e, q)}
    results, timings, covered, embedding_ms = {name: ([], []) for name in variants}, [], 0, []
    for x in queries:
        coengaged, engagers = coengagement.of(x)
        covered += bool(coengaged)
        t0 = time.perf_counter()
        components = related.related_components(catalog, x, coengaged, engagers=engagers)
        timings.append(time.perf_counter() - t0)
        truth_event = same_event(x)
        noise = 1e-9 * rng.random(len(catalog))  # ties broken at random
        if embedded is not None:
            t0 = time.perf_counter()
            by_embedding = np.maximum(embedded[x] @ embedded.T, 0.0)  # cosine, negatives as 0 (as TF-IDF)
            embedding_ms.append((time.perf_counter() - t0) * 1000)
        for name, weights in variants.items():
            parts = components
            if weights[0] == "embedding":
                weights, parts = weights[1:], (by_embedding, *components[1:])
            score = sum(w * part for w, part in zip(weights, parts, strict=True)) + noise
            score[x] = -np.inf
            top = np.argpartition(-score, 10)[:10]
            results[name][0].append(truth_event[top].mean())
            results[name][1].append(np.mean([bool(tag_sets[i] & tag_sets[x]) for i in top]))
    coengaged, engagers = coengagement.of(queries[0])
    served = related.related_scores(catalog, queries[0], coengaged, engagers=engagers)
    mixed = sum(w * p for w, p in zip(variants[f"blend as served ({c} + {e} + {q})"],
                                      related.related_components(catalog, queries[0], coengaged, engagers=engagers),
                                      strict=True))
    assert np.allclose(np.delete(served, queries[0]), np.delete(mixed, queries[0])), "the served blend differs"
    print(f"{len(queries)} markets X with another market of their event or series (seed {args.seed}); "
          f"{covered} of them have co-engagement\n")
    print(f"{'relation':46s} {'P@10 same event or series':>27s} {'P@10 shares a tag':>19s}")
    for name, (event_hits, tag_hits) in results.items():
        print(f"{name:46s} {np.mean(event_hits):27.3f} {np.mean(tag_hits):19.3f}")
    ms = np.array(timings) * 1000
    print(f"\nthe three relations for one X over {len(catalog):,} markets: median {np.median(ms):.1f} ms, "
          f"p95 {np.percentile(ms, 95):.1f} ms")
    if embedding_ms:
        print(f"the embedding's cosine for one X: median {np.median(embedding_ms):.1f} ms")


def wordllama_embed(texts):
    """(L2-normalised embeddings, seconds): WordLlama's default static model (256 dimensions), whose weights
    and tokenizer ship inside the wheel. Loaded from the package's own folder with downloads disabled:
    its default lookup expects the tokenizer in a folder the wheel does not have and would ask the hub."""
    import wordllama
    from wordllama import WordLlama

    started = time.perf_counter()
    model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    vectors = np.asarray(model.embed(texts, norm=True, batch_size=256), dtype=np.float32)
    return vectors, time.perf_counter() - started


if __name__ == "__main__":
    main()
