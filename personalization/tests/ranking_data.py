"""Hand-made catalogs and users for the ranking tests (no database)."""
import numpy as np

from personalization.ranking.inputs import Boosts, Catalog, UserData

NOW = 1_800_000_000.0
HOUR = 3600.0


def _letters(i):
    """a, b, ..., z, ba, bb, ...: distinct titles without numbers, so no two share a title pattern."""
    word = ""
    while True:
        i, r = divmod(i, 26)
        word = chr(97 + r) + word
        if not i:
            return word


def make_catalog(markets, *, trending_local=None, local_users=None, boosts=None):
    """markets: dicts with category, tags, and optional probability, volume_24h, created_at,
    trending, rising, image, news_at, event_start_at, event (an event pk)."""
    categories = sorted({m["category"] for m in markets})
    slugs = sorted({t for m in markets for t in m.get("tags", ())})
    width = max([len(m.get("tags", ())) for m in markets] + [1])
    pad = len(slugs)
    tags = np.full((len(markets), width), pad, dtype=np.int64)
    for i, m in enumerate(markets):
        for j, t in enumerate(m.get("tags", ())):
            tags[i, j] = slugs.index(t)
    col = lambda key, default: np.array([m.get(key, default) for m in markets], dtype=float)  # noqa: E731
    return Catalog(
        pk=np.arange(1, len(markets) + 1),
        market_id=[m.get("market_id", f"m{i}") for i, m in enumerate(markets)],
        title=[m.get("title", f"Market {_letters(i)}") for i, m in enumerate(markets)],
        category=np.array([categories.index(m["category"]) for m in markets], dtype=np.int64),
        categories=categories,
        tags=tags,
        tag_count=np.array([len(m.get("tags", ())) for m in markets], dtype=np.int64),
        tag_slugs=slugs,
        tag_labels=[s.upper() for s in slugs],
        probability=col("probability", 0.5),
        volume_24h=col("volume_24h", 5000.0),
        created_at=col("created_at", NOW - 48 * HOUR),
        news_at=col("news_at", np.nan),
        event_start_at=col("event_start_at", np.nan),
        has_image=np.array([m.get("image", True) for m in markets], dtype=bool),
        trending_global=col("trending", 0.0),
        rising=col("rising", 0.0),
        trending_local={k: np.asarray(v, dtype=float) for k, v in (trending_local or {}).items()},
        local_users_24h={k: np.asarray(v) for k, v in (local_users or {}).items()},
        boosts=boosts or Boosts.empty(),
        event=np.array([m.get("event", -1) for m in markets], dtype=np.int64),
    )


def make_user(catalog, *, seen=None, engaged=(), **kwargs):
    """seen: {catalog index: dict(last_shown_at, prob, volume, positive_at, hidden, rejected_at, shows_24h, shows_7d,
    first_7d)}. engaged: [(catalog index, event type, at)], newest first."""
    seen = seen or {}
    idx = np.array(sorted(seen), dtype=np.int64)
    get = lambda key, default: np.array([seen[i].get(key, default) for i in idx], dtype=float)  # noqa: E731
    return UserData(
        seen_index=idx,
        last_shown_at=get("last_shown_at", np.nan),
        prob_at_last_shown=np.array([seen[i].get("prob", catalog.probability[i]) for i in idx], dtype=float),
        volume_at_last_shown=np.array([seen[i].get("volume", catalog.volume_24h[i]) for i in idx], dtype=float),
        last_positive_at=get("positive_at", np.nan),
        hidden=np.array([seen[i].get("hidden", False) for i in idx], dtype=bool),
        last_rejected_at=get("rejected_at", np.nan),
        shows_24h=np.array([seen[i].get("shows_24h", 0) for i in idx], dtype=np.int64),
        shows_7d=np.array([seen[i].get("shows_7d", seen[i].get("shows_24h", 0)) for i in idx], dtype=np.int64),
        first_shown_7d=get("first_7d", np.nan),
        engaged_index=np.array([e[0] for e in engaged], dtype=np.int64),
        engaged_type=[e[1] for e in engaged],
        engaged_at=np.array([e[2] for e in engaged], dtype=float),
        **{"user_key": "u:1", **kwargs},
    )


def mixed_catalog(n_per_category=30, categories=("Sports", "Politics", "Crypto", "Culture", "Science")):
    rng = np.random.default_rng(3)
    markets = []
    for c in categories:
        for j in range(n_per_category):
            markets.append(
                {
                    "category": c,
                    "tags": [f"{c.lower()}-{j % 4}", f"{c.lower()}-x"],
                    "trending": float(rng.random()),
                    "probability": float(rng.uniform(0.1, 0.9)),
                    "created_at": NOW - float(rng.uniform(0, 200)) * HOUR,
                }
            )
    return make_catalog(markets)
