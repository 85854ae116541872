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


RANDOMIZED = frozenset({EXPLORATION})  # pools whose pick is a weighted draw, not the best by key


def repeat_factor(d, k):
    """What a category's k-th repeat (k >= 1; a number or an array) multiplies its score by."""
    return d.repeat_scale * d.repeat_decay**k + d.repeat_floor


class Composer:
    """Fills a feed slot by slot from ranked pools, keeping quotas, diversity and the run rule."""

    def __init__(self, pools, pool_scores, categories, has_image, quotas, params, n, pinned=None, rng=None):
        self.pools = {p: list(map(int, pools.get(p, ()))) for p in POOLS}
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
        self.used = set(self.pinned.values())
        self.category_count = {}
        self.picks = []

    def _available(self, pool):
        return any(i not in self.used for i in self.pools[pool])

    def _diversity_factor(self, category):
        k = self.category_count.get(category, 0)
        return repeat_factor(self.d, k) if k else 1.0

    def _best(self, pool, need_image):
        """The pool's best unused market after the diversity penalty and the first-N category cap.

        A randomized pool draws instead: (index, propensity)."""
        if pool in RANDOMIZED:
            return self._draw(pool, need_image)
        position = len(self.picks)
        best, best_score = None, -np.inf
        key = self.scores[pool]
        for i in self.pools[pool]:  # sorted by key, best first; the penalty only lowers a score
            raw = key[i]
            if raw <= best_score:
                break
            if i in self.used or (need_image and not self.has_image[i]):
                continue
            category = int(self.categories[i])
            if position < self.d.top_n and self.category_count.get(category, 0) >= self.d.max_per_category_top:
                continue
            adjusted = raw * self._diversity_factor(category) if raw > 0 else raw
            if adjusted > best_score:
                best, best_score = i, adjusted
        return best, None

    def _draw(self, pool, need_image):
        """One market drawn from the pool's eligible ones, with chance proportional to its weight
        times the diversity factor; the chance is logged, so the slot can be evaluated off-policy."""
        candidates = np.array([i for i in self.pools[pool] if i not in self.used], dtype=int)
        if need_image and len(candidates):
            candidates = candidates[self.has_image[candidates]]
        if not len(candidates):
            return None, None
        categories = self.categories[candidates].astype(int)
        counts = np.array([self.category_count.get(c, 0) for c in categories.tolist()])
        if len(self.picks) < self.d.top_n:
            keep = counts < self.d.max_per_category_top
            candidates, categories, counts = candidates[keep], categories[keep], counts[keep]
            if not len(candidates):
                return None, None
        factor = np.where(counts > 0, repeat_factor(self.d, counts), 1.0)
        weights = self.scores[pool][candidates] * factor
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
            if self._run_too_long() and PERSONAL in order and self._available(PERSONAL):
                order = [PERSONAL]
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
            for i in self.pools[pool]:
                if i not in self.used:
                    return i, pool
        return None

    def _take(self, i, pool, propensity=None):
        self.used.add(i)
        self.taken[pool] += 1
        category = int(self.categories[i])
        self.category_count[category] = self.category_count.get(category, 0) + 1
        self.picks.append(Pick(i, pool, propensity))


def sections(n):
    """hero = 1, grid = next 9, stream = the rest."""
    return [section_of(i) for i in range(n)]
