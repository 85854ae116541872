"""How each arm of a simulation chooses a feed: the real feed under a FeedConfig, or a baseline.

A strategy returns [(world market index, pool)] in feed order. `drives_system` says whether the arm
needs the real system behind it (ingestion, beat tasks): the random and most-popular baselines read
nothing the system learns, so their arms run on the simulated world alone.
"""
import random

import numpy as np

from personalization.feed_configs import feed_config_save_version
from personalization.ranking import features
from personalization.ranking.config import default_params
from personalization.ranking.params import FeedParams
from personalization.selectors import caches_reset, catalog_current, user_data_load
from personalization.services import feed_serve

RANDOM, POPULAR, ORIGINAL, CONFIG = "random", "popular", "original", "config"


def params_complete(params):
    """A full nested params dict: the defaults overridden by `params` (a partial dict is fine)."""
    merged = default_params()
    for group, values in (params or {}).items():
        merged.setdefault(group, {}).update(values)
    return merged


class Strategy:
    kind = ""
    drives_system = True

    def __init__(self, name):
        self.name = name

    def prepare(self, world):
        """Once, before the run, with the catalog loaded."""

    def feed(self, *, world, state, user_index, now, feed_request_id, limit, memory):
        raise NotImplementedError


class _CatalogMapping:
    """World indices of the in-memory catalog's markets, rebuilt when the catalog object changes."""

    def __init__(self):
        self._catalog, self._index = None, None

    def of(self, world, catalog):
        if catalog is not self._catalog:
            self._catalog = catalog
            self._index = np.array([world.index[m] for m in catalog.market_id], dtype=np.int64)
        return self._index


class ConfigFeed(Strategy):
    """The production feed (`feed_serve`) under one FeedConfig, saved as the active home version."""

    kind = CONFIG

    def __init__(self, name, params):
        super().__init__(name)
        self.params = params_complete(params)
        self.mapping = _CatalogMapping()

    def prepare(self, world):
        feed_config_save_version(surface="home", params=self.params, note=f"simulation: {self.name}",
                                 created_by=None, activate=True)
        caches_reset()

    def feed(self, *, world, state, user_index, now, feed_request_id, limit, memory):
        user = world.users[user_index]
        result = feed_serve(user_key=user.key, surface="home", limit=limit, country=user.country, now=now,
                            feed_request_id=feed_request_id)
        index = self.mapping.of(world, result.catalog)
        return [(int(index[item.index]), item.pool) for item in result.ranking.items]


class OriginalFormulaFeed(Strategy):
    """The final score with the default parameters, best first: no caps, no quotas, no diversity.

    Hidden markets stay out (a hide is the user's explicit wish, not a ranking rule).
    """

    kind = ORIGINAL

    def __init__(self, name=ORIGINAL):
        super().__init__(name)
        self.params = FeedParams.from_dict(None)
        self.mapping = _CatalogMapping()

    def feed(self, *, world, state, user_index, now, feed_request_id, limit, memory):
        user = world.users[user_index]
        catalog, _ = catalog_current(now=now)
        data = user_data_load(user_key=user.key, catalog=catalog, now=now, country=user.country)
        final = features.score(catalog, data, self.params, now.timestamp()).final.copy()
        final[data.seen_index[data.hidden]] = -np.inf
        top = np.argsort(-final, kind="stable")[:limit]
        index = self.mapping.of(world, catalog)
        return [(int(index[i]), ORIGINAL) for i in top if np.isfinite(final[i])]


class PopularFeed(Strategy):
    """The most traded open markets (24 h volume), the same for everyone; hidden markets left out."""

    kind = POPULAR
    drives_system = False

    def __init__(self, name=POPULAR):
        super().__init__(name)
        self._version, self._order = None, None

    def feed(self, *, world, state, user_index, now, feed_request_id, limit, memory):
        if self._version != state.version:
            volume = np.where(state.open, state.volume_24h, -np.inf)
            self._order = [int(i) for i in np.argsort(-volume, kind="stable")[: limit + 50] if state.open[i]]
            self._version = state.version
        return [(m, POPULAR) for m in self._order if m not in memory.hidden][:limit]


class RandomFeed(Strategy):
    """Open markets drawn uniformly, seeded by the feed request; hidden markets left out."""

    kind = RANDOM
    drives_system = False

    def feed(self, *, world, state, user_index, now, feed_request_id, limit, memory):
        r = random.Random(f"sim-random:{world.seed}:{feed_request_id}")
        candidates = np.flatnonzero(state.open)
        picked = r.sample(range(len(candidates)), min(len(candidates), limit + len(memory.hidden)))
        markets = [int(candidates[k]) for k in picked if int(candidates[k]) not in memory.hidden]
        return [(m, RANDOM) for m in markets[:limit]]


def strategy_build(kind, name, params=None):
    if kind == CONFIG:
        return ConfigFeed(name, params)
    return {RANDOM: RandomFeed, POPULAR: PopularFeed, ORIGINAL: OriginalFormulaFeed}[kind](name)
