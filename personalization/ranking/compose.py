"""Feed composition: pools, quotas with rollover, interleaving, diversity, sections."""
from dataclasses import dataclass

import numpy as np

from feedproject.vocabulary import section_of

PERSONAL, LOCAL, GLOBAL, EXPLORATION, EDITORIAL = (
    "personal", "trending_local", "trending_global", "exploration", "editorial",
)
POOLS = (PERSONAL, LOCAL, GLOBAL, EXPLORATION, EDITORIAL)
POOL_DEPTH = 200  # candidates kept per pool: far more than a page needs after caps and diversity
EXPLORATION_DEPTH = 3 * POOL_DEPTH  # the best explorable markets by the exploration key, drawn from


@dataclass
class Pick:
    index: int  # catalog index
    pool: str
    propensity: float | None = None  # the chance this pick had, for a randomized pool's draw


def largest_remainder(quotas, n):
    """Integer slot counts for a feed of n that sum to n, by the largest-remainder method."""
    names = list(quotas)
    exact = np.array([quotas[p] for p in names], dtype=float) * n
    counts = np.floor(exact).astype(int)
    order = sorted(range(len(names)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: n - counts.sum()]:
        counts[i] += 1
    return dict(zip(names, counts.tolist(), strict=True))


def cold_start_quotas(quotas):
    """No history: personal's share goes to trending and exploration, in proportion to theirs."""
    receivers = [LOCAL, GLOBAL, EXPLORATION]
    base = sum(quotas[p] for p in receivers)
    moved = dict(quotas, **{PERSONAL: 0.0})
    for p in receivers:
        share = quotas[p] / base if base else 1 / len(receivers)
        moved[p] = quotas[p] + quotas[PERSONAL] * share
    return moved


def top(order_key, allowed, depth=POOL_DEPTH):
    """Indices of the `depth` best allowed markets by `order_key`, best first (argpartition, not a full sort)."""
    candidates = np.flatnonzero(allowed)
    if len(candidates) > depth:
        part = np.argpartition(-order_key[candidates], depth - 1)[:depth]
        candidates = candidates[part]
    return candidates[np.argsort(-order_key[candidates], kind="stable")]


def exploration_weights(order_key):
    """The draw weights of exploration: the key, floored so every candidate keeps a chance."""
    return np.maximum(order_key, 0) + 1e-6


RANDOMIZED = frozenset({EXPLORATION})  # pools whose pick is a weighted draw, not the best by key (never personal)


def repeat_factor(d, k):
    """What a category's k-th repeat (k >= 1; a number or an array) multiplies its score by."""
    return d.repeat_scale * d.repeat_decay**k + d.repeat_floor


def category_shares(catalog, values, prior_mass):
    """Each category's share of the user's positive category values, v+ / (sum of v+ + k), over the
    catalog's categories: near 1 for the one category of a one-category fan, about 1/3 each for
    three liked alike; the prior mass k keeps it low while there is little evidence."""
    v = np.zeros(len(catalog.categories))
    for (topic_type, value), score in values.items():
        if topic_type == "category" and value in catalog.category_code:
            v[catalog.category_code[value]] = max(score, 0.0)
    return v / (v.sum() + prior_mass)


def intent_lead(params, beta):
    """How many first items the personal pool leads: `intent_positions` (the hero and the first
    row) when the session blend beta shows a clear intent, else none."""
    clear = beta > 0 and beta >= params.diversity.intent_share * params.interest.beta_max
    return params.diversity.intent_positions if clear else 0


class Composer:
    """Fills a feed slot by slot from ranked pools, keeping quotas, diversity and the run rule.

    Diversity (docs/ranking.md, "Diversity"): in the first N at most one market of a near-duplicate
    group (`groups`), and a pool other than personal adds no category that already has
    `max_per_category_top` items there; a category's repeats are scored down, in the personal pool
    only beyond the category's share of the user's taste (`shares`, by category code) among
    personal's own picks.
    `lead`: the first positions the personal pool takes while it has slots.
    """

    def __init__(
        self, pools, pool_scores, categories, has_image, quotas, params, n, pinned=None, rng=None, *,
        groups=None, shares=None, lead=0,
    ):
        categories = np.asarray(categories)
        self.pools = {p: np.asarray(pools.get(p, ()), dtype=np.intp) for p in POOLS}
        self.rng = rng
        self.scores = pool_scores  # pool -> array over the catalog (the pool's ranking key)
        self.categories = categories
        self.has_image = has_image
        self.quotas = quotas
        self.d = params.diversity
        self.n = n
        self.pinned = pinned or {}  # position -> catalog index
        self.slots = largest_remainder(quotas, n)
        self.taken = dict.fromkeys(POOLS, 0)
        self.groups = np.arange(len(categories)) if groups is None else np.asarray(groups)
        # The state of the feed so far as arrays over the catalog, its categories and its groups, so a
        # pool's best pick is a few array operations over its candidates (no loop per candidate).
        self.used = np.zeros(len(categories), dtype=bool)
        self.used[list(self.pinned.values())] = True
        width = int(categories.max()) + 1 if len(categories) else 1
        self.shares = np.zeros(width)
        if shares is not None:
            shares = np.asarray(shares, dtype=float)
            self.shares[: len(shares)] = shares[:width]
        self.lead = lead
        self.category_count = np.zeros(width, dtype=np.int64)
        self.personal_count = np.zeros(width, dtype=np.int64)  # the personal pool's own picks by category
        self.group_count = np.zeros(int(self.groups.max()) + 1 if len(self.groups) else 1, dtype=np.int64)
        self.picks = []

    def _unused(self, pool):
        candidates = self.pools[pool]
        return candidates[~self.used[candidates]]

    def _available(self, pool):
        return bool(len(self._unused(pool)))

    def _eligible(self, pool, need_image):
        """The pool's unused candidates the first-N rules let into this slot, in the pool's order, with
        their categories' and groups' counts so far."""
        candidates = self._unused(pool)
        if need_image:
            candidates = candidates[self.has_image[candidates]]
        categories, groups = self.categories[candidates], self.groups[candidates]
        counts, repeats = self.category_count[categories], self.group_count[groups]
        if len(self.picks) < self.d.top_n:  # at most one of a group; no pool but personal adds to a full category
            keep = repeats == 0
            if pool != PERSONAL:
                keep &= counts < self.d.max_per_category_top
            candidates, categories, counts, repeats = candidates[keep], categories[keep], counts[keep], repeats[keep]
        return candidates, categories, counts, repeats

    def _diversity_factor(self, pool, categories, counts, repeats):
        """What the diversity penalties multiply each candidate's score by. The category repeats a pool
        counts: every pick of the category so far; in the personal pool, its own picks of the category
        beyond the category's share s of its m picks so far, count - s * m."""
        if pool == PERSONAL:
            counts = self.personal_count[categories] - self.shares[categories] * self.taken[PERSONAL]
        factor = np.where(counts > 0, repeat_factor(self.d, np.maximum(counts, 0)), 1.0)
        return factor * self.d.duplicate_factor**repeats

    def _best(self, pool, need_image):
        """The pool's best unused market after the diversity penalties and the first-N rules (the first
        of equals in the pool's order); a randomized pool draws instead. (index, propensity or None)."""
        if pool in RANDOMIZED:
            return self._draw(pool, need_image)
        candidates, categories, counts, repeats = self._eligible(pool, need_image)
        raw = self.scores[pool][candidates]
        scored = raw > -np.inf  # neither -inf nor NaN: a market without a score is never picked
        if not scored.any():
            return None, None
        candidates, raw = candidates[scored], raw[scored]
        factor = self._diversity_factor(pool, categories[scored], counts[scored], repeats[scored])
        adjusted = np.where(raw > 0, raw * factor, raw)  # a penalty lowers a positive score only
        return int(candidates[int(np.argmax(adjusted))]), None

    def _draw(self, pool, need_image):
        """One market drawn from the pool's eligible ones, with chance proportional to its weight
        times the diversity factor; the chance is logged, so the slot can be evaluated off-policy."""
        candidates, categories, counts, repeats = self._eligible(pool, need_image)
        if not len(candidates):
            return None, None
        weights = self.scores[pool][candidates] * self._diversity_factor(pool, categories, counts, repeats)
        chances = weights / weights.sum()
        k = int(self.rng.choice(len(candidates), p=chances))
        return int(candidates[k]), float(chances[k])

    def _roll_over(self, pool):
        """A dry pool gives its remaining slots to personal, then to trending_global."""
        left = self.slots[pool] - self.taken[pool]
        self.slots[pool] = self.taken[pool]
        for receiver in (PERSONAL, GLOBAL, *POOLS):
            if receiver != pool and self._available(receiver):
                self.slots[receiver] += left
                return

    def _pool_order(self):
        """Pools by their deficit at this prefix: quota x (position + 1) - taken, personal first on ties."""
        position = len(self.picks) + 1
        candidates = [p for p in POOLS if self.taken[p] < self.slots[p]]
        share = {p: self.slots[p] / self.n for p in POOLS}
        return sorted(candidates, key=lambda p: (-(share[p] * position - self.taken[p]), POOLS.index(p)))

    def _run_too_long(self):
        run = self.d.max_non_personal_run
        recent = self.picks[-run:]
        return len(recent) == run and all(p.pool != PERSONAL for p in recent)

    def compose(self):
        while len(self.picks) < self.n:
            position = len(self.picks)
            if position in self.pinned:
                self._take(self.pinned[position], EDITORIAL)
                continue
            need_image = position == 0
            order = self._pool_order()
            if PERSONAL in order and self._available(PERSONAL):
                if self._run_too_long():
                    order = [PERSONAL]
                elif position < self.lead:  # a clear session intent: personal first, the others if it has nothing
                    order = [PERSONAL, *(p for p in order if p != PERSONAL)]
            picked = None
            for pool in order:
                i, chance = self._best(pool, need_image)
                if i is None and need_image:
                    i, chance = self._best(pool, False)
                if i is not None:
                    picked = (i, pool, chance)
                    break
                if not self._available(pool):
                    self._roll_over(pool)
            if picked is None:
                if not any(self._available(p) for p in POOLS):
                    break
                # Every pool with slots is held back by the category cap: relax it for this slot.
                picked = self._any_remaining()
                if picked is None:
                    break
            self._take(*picked)
        return self.picks

    def _any_remaining(self):
        for pool in (PERSONAL, GLOBAL, *POOLS):
            unused = self._unused(pool)
            if len(unused):
                return int(unused[0]), pool
        return None

    def _take(self, i, pool, propensity=None):
        self.used[i] = True
        self.taken[pool] += 1
        category = self.categories[i]
        self.category_count[category] += 1
        if pool == PERSONAL:
            self.personal_count[category] += 1
        self.group_count[self.groups[i]] += 1
        self.picks.append(Pick(i, pool, propensity))


def sections(n):
    """hero = 1, grid = next 9, stream = the rest."""
    return [section_of(i) for i in range(n)]
