"""The whole ranking of one feed: score, filter, pool, compose, explain. Pure: data in, items out."""
import hashlib
from dataclasses import dataclass, field

import numpy as np

from personalization.ranking import caps, compose, explain, features, learned
from personalization.ranking.related import RELATED_DEPTH

RELATED_SHARE = 0.7  # on the related surface, the personal pool's key: 0.7 relatedness + 0.3 the user's taste


@dataclass
class Item:
    index: int
    position: int
    section: str
    pool: str
    reason: str
    reason_text: str
    score: float
    components: dict
    propensity: float | None = None  # the chance of a randomized pick (exploration), else None


@dataclass
class Ranking:
    items: list
    filtered: dict = field(default_factory=dict)  # catalog index -> rule that left it out
    beta: float = 0.0
    cold_start: bool = False


def seed_for(user_key, feed_request_id):
    """Randomness seeded by (user_key, feed_request_id): the same request reproduces its feed."""
    digest = hashlib.blake2b(f"{user_key}|{feed_request_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def scores(catalog, user, params, now, surface="home", model=None):
    """Every feature and the scores; with a learned `model`, the personal and final scores are its
    Σ value × P (learned.py) — what the formula's weights hand-set, the model has learned."""
    scored = features.score(catalog, user, params, now, surface)
    if model is not None:
        value, scored.predicted = learned.value(model.payload, scored.features, len(catalog), params.events)
        scored.relevance = scored.final = value
    return scored


def rank_feed(catalog, user, params, *, now, limit, seed, surface="home", model=None, category=None, related=None,
              candidates=None):
    """Compose a feed of up to `limit` items for `user` from `catalog` at time `now` (epoch seconds).

    `model` is the learned ranker (learned.Model) when the config asks for it and one is active.
    `category` (the category surface): every pool holds only that category's markets, exploration
    offers its tags the user has not shown taste for, and diversity works over its tags.
    `related` (the market_related surface): the relatedness of every market to the page's market
    (ranking/related.py); the pools draw from the most related, and the personal pool orders them by
    relatedness blended with the user's taste. Those few hundred markets are ranked as a catalog of
    their own (_related_rank), so a market page costs what its candidates cost, not the catalog.
    `candidates`: catalog indices the feed draws from (the related surface's, within that part)."""
    if not len(catalog) or limit <= 0:
        return Ranking(items=[])
    if related is not None and candidates is None:
        return _related_rank(catalog, user, params, related, now=now, limit=limit, seed=seed, surface=surface,
                             model=model, category=category)
    rng = np.random.default_rng(seed)
    scored = scores(catalog, user, params, now, surface, model)
    f = scored.features
    elig = caps.eligibility(catalog, user, params, now)
    allowed = _allowed(catalog, elig, category)
    if candidates is not None:
        allowed = np.zeros(len(catalog), dtype=bool)
        allowed[candidates] = True

    _, local = features.trending(catalog, user.country, 1.0, params.features.local_min_users)
    (long_cat, long_tag), _ = features.affinity_tables(user.long, catalog, params.interest.prior_mass)
    rejected = features.rejected(user, now, params.exploration.rejection_memory_days)
    near_rejected = features.rejection_similarity(catalog, rejected)
    # Exploration offers what the user has not turned down: not a near-duplicate, not the category
    # (on a category's surface: tags of it the user has shown no taste for, not a rejected one's tags).
    limit_affinity = params.exploration.max_long_affinity
    if category is None:
        explorable = allowed & (long_cat[catalog.category] < limit_affinity)
        explorable &= (near_rejected == 0) & ~np.isin(catalog.category, catalog.category[rejected])
    else:
        explorable = allowed & (long_tag[catalog.tags].max(axis=1, initial=0.0) < limit_affinity)
        rejected_tags = np.setdiff1d(catalog.tags[rejected], [len(catalog.tag_slugs)])
        explorable &= (near_rejected == 0) & ~np.isin(catalog.tags, rejected_tags).any(axis=1)
    explore_key = (
        params.exploration.trending_weight * f["trending"] + params.exploration.freshness_weight * f["freshness"]
    )
    boost_values = f["editorial"]
    # The personal pool ranks by what the user is known to like; what is popular, rising or boosted
    # has pools of its own, so it does not order this one too (docs/ranking.md).
    # Near-duplicates of what the user rejected go down in every pool (docs/ranking.md).
    personal_key, local_key, global_key = scored.relevance, local, catalog.trending_global
    if related is not None:
        # Relatedness first in every ranked pool and in exploration's draw; the user's taste, the trend or
        # exploration's own key second.
        closeness = np.where(np.isfinite(related), related, 0.0)
        personal_key, local_key, global_key, explore_key = (
            RELATED_SHARE * closeness + (1 - RELATED_SHARE) * key
            for key in (personal_key, local, global_key, explore_key)
        )
    pool_keys = {
        compose.PERSONAL: features.demoted(personal_key, near_rejected),
        compose.LOCAL: features.demoted(local_key, near_rejected),
        compose.GLOBAL: features.demoted(global_key, near_rejected),
        compose.EXPLORATION: compose.exploration_weights(explore_key),  # drawn from, by these weights
        compose.EDITORIAL: features.demoted(boost_values, near_rejected),
    }
    pools = {
        compose.PERSONAL: compose.top(pool_keys[compose.PERSONAL], allowed),
        compose.LOCAL: compose.top(pool_keys[compose.LOCAL], allowed & (local > 0)),
        compose.GLOBAL: compose.top(pool_keys[compose.GLOBAL], allowed & (catalog.trending_global > 0)),
        compose.EXPLORATION: compose.top(explore_key, explorable, compose.EXPLORATION_DEPTH),
        compose.EDITORIAL: compose.top(pool_keys[compose.EDITORIAL], allowed & (boost_values > 0)),
    }
    if model is not None:
        # The trending pools keep their candidates (what is popular here and everywhere); the model
        # orders them by what this user is likely to do with each (docs/learning.md). Editorial
        # boosts keep the editors' order, exploration its logged draw.
        for pool in (compose.LOCAL, compose.GLOBAL):
            candidates = pools[pool]
            pools[pool] = candidates[np.argsort(-pool_keys[compose.PERSONAL][candidates], kind="stable")]
            pool_keys[pool] = pool_keys[compose.PERSONAL]
    pinned = _pinned(catalog, now, surface, allowed, limit)
    cold = not user.has_history
    # A newcomer's personal share goes to trending and exploration, except on a market's page, where
    # the personal pool is ordered by relatedness first and so means something without a history.
    quotas = compose.cold_start_quotas(params.quotas) if cold and related is None else dict(params.quotas)
    # The personal pool's category-repeat penalty counts only what a category holds beyond its share of
    # the user's taste, long-term and session blended by beta as in the interest (docs/ranking.md).
    k = params.interest.prior_mass
    shares = (1 - scored.beta) * compose.category_shares(catalog, user.long, k)
    shares += scored.beta * compose.category_shares(catalog, user.session, k)
    topics = catalog.category
    if category is not None or related is not None:
        # One category, or a market's neighbours (mostly of its category): diversity is over the markets' first tags.
        topics, shares = catalog.tags[:, 0], None
    picks = compose.Composer(
        pools, pool_keys, topics, catalog.has_image, quotas, params, limit, pinned, rng,
        groups=features.duplicate_groups(catalog), shares=shares, lead=compose.intent_lead(params, scored.beta),
    ).compose()

    names = compose.sections(len(picks))
    items = []
    for position, pick in enumerate(picks):
        i = pick.index
        reason = "followup" if elig.changed[i] else pick.pool
        components = {name: round(float(f[name][i]), 4) for name in features.COMPONENTS}
        components.update(personal=round(float(scored.personal[i]), 4), final=round(float(scored.final[i]), 4))
        components.update({f"p_{outcome}": round(float(p[i]), 5) for outcome, p in scored.predicted.items()})
        items.append(
            Item(
                index=i, position=position, section=names[position], pool=pick.pool, reason=reason,
                reason_text=explain.reason_text(reason, catalog, i, user, f, elig.change_text.get(i)),
                score=float(scored.final[i]), components=components, propensity=pick.propensity,
            )
        )
    return Ranking(items=items, filtered=elig.blocked, beta=scored.beta, cold_start=cold)


def _allowed(catalog, elig, category):
    if category is None:
        return elig.allowed
    return elig.allowed & (catalog.category == catalog.category_code.get(category, -1))


def _related_rank(catalog, user, params, related, *, now, category, **kwargs):
    """The related surface: its RELATED_DEPTH most related allowed markets, ranked within the part of the
    catalog they and the user's context markets make (Catalog.take: every feature of a market is the same
    there), the items' indices then mapped back to the catalog."""
    elig = caps.eligibility(catalog, user, params, now)
    allowed = _allowed(catalog, elig, category)
    closest = compose.top(related, allowed & np.isfinite(related) & (related > 0), RELATED_DEPTH)
    rows = np.union1d(closest, user.context_index())
    position = np.full(len(catalog), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    part = catalog.take(rows, countries=(user.country,))
    ranking = rank_feed(part, user.take(position), params, now=now, category=category, related=related[rows],
                        candidates=position[closest], **kwargs)
    for item in ranking.items:
        item.index = int(rows[item.index])
    ranking.filtered = elig.blocked
    return ranking


def _pinned(catalog, now, surface, allowed, limit):
    """{position: catalog index} of the active pinned boosts the user may see."""
    b = catalog.boosts
    pinned = {}
    for k in np.flatnonzero(b.pinned_slot >= 0):
        if not (b.starts_at[k] <= now < b.ends_at[k]) or (b.surfaces[k] and surface not in b.surfaces[k]):
            continue
        i, slot = int(b.index[k]), int(b.pinned_slot[k])
        if slot < limit and allowed[i] and slot not in pinned and i not in pinned.values():
            pinned[slot] = i
    return pinned
