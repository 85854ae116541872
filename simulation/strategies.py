"""How each arm of a simulation chooses a feed: the real feed under a FeedConfig, or a baseline.

A strategy returns [(world market index, pool)] in feed order. `drives_system` says whether the arm
needs the real system behind it (ingestion, beat tasks): the random, most-popular and oracle arms read
nothing the system learns, so they run on the simulated world alone. `sees_plan` marks the one arm
given the session's plan (its hidden intent): the oracle.
"""
import random
from datetime import UTC, datetime, timedelta

import numpy as np

from personalization.feed_configs import feed_config_save_version
from personalization.ranking import features
from personalization.ranking.config import LEARNED, default_params
from personalization.ranking.params import FeedParams
from personalization.selectors import caches_reset, catalog_current, user_data_load
from personalization.services import feed_serve

RANDOM, POPULAR, ORIGINAL, CONFIG, ORACLE = "random", "popular", "original", "config", "oracle"
EXPERIMENT = "experiment"


def params_complete(params):
    """A full nested params dict: the defaults overridden by `params` (a partial dict is fine)."""
    merged = default_params()
    for group, values in (params or {}).items():
        merged.setdefault(group, {}).update(values)
    return merged


class Strategy:
    kind = ""
    drives_system = True
    sees_plan = False  # True: feed() also gets `plan`, the session's SessionPlan (what the user came for)
    learns = False  # True: the arm's beat trains the learned ranker every simulated night

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

    @property
    def learns(self):
        """Its config ranks with the learned model: the arm's beat trains one every simulated night."""
        return self.params["ranker"]["model"] == LEARNED

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


class OracleFeed(Strategy):
    """The open markets by the user's click chance as the world computes it (`World.click_logits`):
    their hidden taste, the session's intent, buzz, popularity, and their memory of showings and clicks
    (so a recent repeat goes down unless its odds moved). Hidden markets left out.

    Greedy: the best feed for this request, blind to what it does to the next ones. A reference for
    the other arms (their "share of the oracle"), not a bound: it reads nothing the system learns.
    """

    kind = ORACLE
    drives_system = False
    sees_plan = True

    def __init__(self, name=ORACLE):
        super().__init__(name)

    def feed(self, *, world, state, user_index, now, feed_request_id, limit, memory, plan):
        z = world.click_logits(user_index=user_index, plan=plan, at=now.timestamp(), memory=memory)
        z = np.where(state.open, z, -np.inf)
        z[list(memory.hidden)] = -np.inf
        top = np.argsort(-z, kind="stable")[:limit]
        return [(int(m), ORACLE) for m in top if np.isfinite(z[m])]


class ExperimentFeed(ConfigFeed):
    """The production feed while an experiment of two configs runs on the home surface: `params` is
    {"a": params, "b": params, "mode": "ab" | "interleave", "salt": str}. Each user gets their arm
    (A/B) or both arms merged (interleaving) from the real experiment machinery."""

    kind = EXPERIMENT

    def __init__(self, name, params):
        Strategy.__init__(self, name)
        self.arms = {"a": params_complete(params["a"]), "b": params_complete(params["b"])}
        self.mode, self.salt = params["mode"], params.get("salt", "simulation")
        self.params = self.arms["a"]
        self.mapping = _CatalogMapping()
        self.experiment_id = None

    @property
    def learns(self):
        return any(p["ranker"]["model"] == LEARNED for p in self.arms.values())

    def prepare(self, world):
        from personalization.experiments import experiment_start
        from personalization.models import Experiment, ExperimentArm

        configs = {
            name: feed_config_save_version(surface="home", params=params, note=f"simulation: {self.name} {name}",
                                           created_by=None, activate=name == "a")
            for name, params in self.arms.items()
        }
        start = datetime.fromtimestamp(world.start, tz=UTC)
        experiment = Experiment.objects.create(
            name=self.name, surface="home", mode=self.mode, salt=self.salt, starts_at=start,
            ends_at=start + timedelta(days=world.days, seconds=1),
        )
        for name, config in configs.items():
            ExperimentArm.objects.create(experiment=experiment, name=name, feed_config=config, share=0.5)
        experiment_start(experiment=experiment, user=None, now=start)
        self.experiment_id = experiment.pk
        caches_reset()


def strategy_build(kind, name, params=None):
    if kind == CONFIG:
        return ConfigFeed(name, params)
    if kind == EXPERIMENT:
        return ExperimentFeed(name, params)
    return {RANDOM: RandomFeed, POPULAR: PopularFeed, ORIGINAL: OriginalFormulaFeed, ORACLE: OracleFeed}[kind](name)
