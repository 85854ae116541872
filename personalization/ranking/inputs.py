"""The data the ranking functions take: per-market arrays shared by all users, and one user's rows.

Times are seconds since the epoch (float64, NaN for "never"), so every rule is array math.
"""
import functools
import re
from dataclasses import dataclass, field, fields, replace

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.stats import rankdata


@dataclass
class Boosts:
    """Editorial boosts, active or not; the window is checked against `now` per request."""

    index: np.ndarray  # catalog index of the boosted market
    value: np.ndarray
    starts_at: np.ndarray
    ends_at: np.ndarray
    surfaces: list  # per boost: tuple of surfaces, empty = all
    pinned_slot: np.ndarray  # -1 = not pinned

    @classmethod
    def empty(cls):
        e = np.empty(0)
        return cls(np.empty(0, dtype=np.int64), e, e, e, [], np.empty(0, dtype=np.int64))


_NUMBER = re.compile(r"[-+]?[$€£]?\d[\d,.:]*(?:st|nd|rd|th|k|m|bn|%|°[cf]?)?", re.IGNORECASE)
_NUMBERS = re.compile(r"#(?:[\s\-–]*#)+")  # a range or a date of several numbers is one
_SPACE = re.compile(r"\s+")


# The catalog is rebuilt every minute or so with the same titles: three regex passes over 20,000
# titles cost ~130 ms a rebuild, the cached lookups ~3 ms.
@functools.lru_cache(maxsize=1 << 17)
def title_pattern(title):
    """The title in lower case with every number (amounts, dates, thresholds, ordinals) as #."""
    return _SPACE.sub(" ", _NUMBERS.sub("#", _NUMBER.sub("#", title.lower()))).strip()


@dataclass
class Catalog:
    """Open markets as parallel arrays; position i is the same market in every array."""

    pk: np.ndarray
    market_id: list
    title: list
    category: np.ndarray  # int codes into `categories`
    categories: list
    tags: np.ndarray  # (n, max_tags) codes into `tag_slugs`; padding = len(tag_slugs)
    tag_count: np.ndarray
    tag_slugs: list
    tag_labels: list
    probability: np.ndarray
    volume_24h: np.ndarray
    created_at: np.ndarray
    news_at: np.ndarray
    event_start_at: np.ndarray
    has_image: np.ndarray
    trending_global: np.ndarray
    rising: np.ndarray
    trending_local: dict = field(default_factory=dict)  # country -> array
    local_users_24h: dict = field(default_factory=dict)  # country -> int array
    boosts: Boosts = field(default_factory=Boosts.empty)
    event: np.ndarray | None = None  # the event's pk per market (the outcomes of one question); -1 = none

    def __post_init__(self):
        self.index_of_pk = {int(pk): i for i, pk in enumerate(self.pk)}
        self.index_of_market_id = {market_id: i for i, market_id in enumerate(self.market_id)}
        # Each market's topic set {category} ∪ tags as a sparse 0/1 row: overlaps become one product.
        pad = len(self.tag_slugs)
        rows, cols = np.nonzero(self.tags != pad)
        self.topics = sparse.csr_matrix(
            (
                np.ones(len(rows) + len(self.pk), dtype=np.float32),
                (np.concatenate([rows, np.arange(len(self.pk))]),
                 np.concatenate([self.tags[rows, cols], pad + np.asarray(self.category)])),
            ),
            shape=(len(self.pk), pad + len(self.categories)),
        )
        self.category_code = {name: i for i, name in enumerate(self.categories)}
        self.tag_code = {slug: i for i, slug in enumerate(self.tag_slugs)}
        # Markets whose titles differ only in their numbers ("New York 86°F on Dec 8", "... 89°F on
        # Dec 7") share a pattern code: the same question about another threshold or day.
        patterns = {}
        self.title_pattern = np.array(
            [patterns.setdefault(title_pattern(t), len(patterns)) for t in self.title], dtype=np.int64
        )
        self.event = np.full(len(self.pk), -1, dtype=np.int64) if self.event is None else np.asarray(self.event)
        self.question_group = question_groups(self.title_pattern, self.event)
        # The share of the catalog each market out-trades by 24 h volume, in (0, 1]: popularity on a
        # scale that does not depend on the catalog's currency or size (a feature of the learned ranker).
        volume = np.nan_to_num(np.asarray(self.volume_24h, dtype=float))
        self.popularity = rankdata(volume) / max(len(volume), 1) if len(volume) else np.empty(0)

    def __len__(self):
        return len(self.pk)

    @functools.cached_property
    def _pk_order(self):
        order = np.argsort(self.pk, kind="stable")
        return order, np.asarray(self.pk)[order]

    def indices_of_pks(self, pks):
        """The catalog index of each market pk in `pks` (an array), -1 where it is not an open market."""
        order, sorted_pk = self._pk_order
        at = sorted_positions(sorted_pk, np.asarray(pks, dtype=np.int64))
        return np.where(at >= 0, order[at], -1) if len(order) else at

    VOCABULARY = ("categories", "tag_slugs", "tag_labels")  # the codes' names: the same in a part of the catalog

    def take(self, rows, countries=None):
        """The markets at `rows` (sorted catalog indices) as a catalog of their own, position k being
        market rows[k]. Every array is sliced, the derived ones too: popularity and the question groups
        stay the whole catalog's (recomputed over a part, they would not be), and the codes and their
        names are shared, so a feature of a market is the same in the part as in the whole.
        `countries`: the only countries whose local trends the part needs (default: all)."""
        rows = np.asarray(rows, dtype=np.int64)
        part = object.__new__(Catalog)  # not __post_init__: nothing is recomputed
        for name in (f.name for f in fields(Catalog)):
            value = getattr(self, name)
            if name in self.VOCABULARY:
                part.__dict__[name] = value
            elif isinstance(value, np.ndarray):
                part.__dict__[name] = value[rows]
            elif isinstance(value, list):
                part.__dict__[name] = [value[i] for i in rows.tolist()]
            elif isinstance(value, dict):  # per country
                part.__dict__[name] = {country: array[rows] for country, array in value.items()
                                       if countries is None or country in countries}
        b = self.boosts
        at = sorted_positions(rows, b.index)
        kept = at >= 0
        part.boosts = Boosts(at[kept], b.value[kept], b.starts_at[kept], b.ends_at[kept],
                             [s for s, k in zip(b.surfaces, kept.tolist(), strict=True) if k], b.pinned_slot[kept])
        part.index_of_pk = {int(pk): i for i, pk in enumerate(part.pk)}
        part.index_of_market_id = {market_id: i for i, market_id in enumerate(part.market_id)}
        part.topics = self.topics[rows]
        part.category_code, part.tag_code = self.category_code, self.tag_code
        part.title_pattern, part.question_group = self.title_pattern[rows], self.question_group[rows]
        part.popularity = self.popularity[rows]
        return part


def sorted_positions(sorted_keys, keys):
    """The position of each of `keys` in the sorted array `sorted_keys`, -1 where it is not there."""
    at = np.searchsorted(sorted_keys, keys)
    found = at < len(sorted_keys)
    found[found] = sorted_keys[at[found]] == keys[found]
    return np.where(found, at, -1).astype(np.int64)


def question_groups(pattern, event):
    """Each market's group of markets that ask one question: linked by a shared title pattern
    (another day or threshold) or a shared event (another outcome), transitively, so a daily
    series of events whose titles differ by the date is one group too. An int code per market.
    """
    n = len(pattern)
    has_event = event >= 0
    _, event_code = np.unique(event[has_event], return_inverse=True)
    # A graph of markets and the patterns and events they belong to; a group is a connected component.
    patterns = int(pattern.max(initial=-1)) + 1
    size = n + patterns + int(event_code.max(initial=-1)) + 1
    rows = np.concatenate([np.arange(n), np.flatnonzero(has_event)])
    cols = np.concatenate([n + pattern, n + patterns + event_code])
    graph = sparse.coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    return labels[:n].astype(np.int64)


@dataclass
class UserData:
    """One user's rows, reduced to what ranking needs; market positions are catalog indices."""

    user_key: str
    country: str = ""
    long: dict = field(default_factory=dict)  # (topic_type, value) -> score decayed to now
    session: dict = field(default_factory=dict)
    recent: list = field(default_factory=list)  # catalog indices viewed/clicked in 24 h, newest first
    session_started_at: float = float("nan")  # NaN: no live session
    # (topic_type, value) -> (hits, trials) of shown markets: decayed like the long affinity, and this session's.
    hits_long: dict = field(default_factory=dict)
    hits_session: dict = field(default_factory=dict)
    # The user's latest engagements (open markets), newest first: what reason texts may cite.
    engaged_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    engaged_type: list = field(default_factory=list)
    engaged_at: np.ndarray = field(default_factory=lambda: np.empty(0))
    dwell_mean_ms: dict = field(default_factory=dict)  # category name -> mean dwell
    seen_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    last_shown_at: np.ndarray = field(default_factory=lambda: np.empty(0))
    prob_at_last_shown: np.ndarray = field(default_factory=lambda: np.empty(0))
    volume_at_last_shown: np.ndarray = field(default_factory=lambda: np.empty(0))
    last_positive_at: np.ndarray = field(default_factory=lambda: np.empty(0))
    hidden: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    last_rejected_at: np.ndarray = field(default_factory=lambda: np.empty(0))  # hide / not_interested
    shows_24h: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    shows_7d: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    first_shown_7d: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def has_history(self):
        return bool(self.long or self.session or self.recent)

    def context_index(self):
        """The catalog indices ranking reads besides the candidates: the recently viewed (similarity),
        the engaged with (reason texts) and the rejected (near-duplicates) markets."""
        rejected = self.seen_index[~np.isnan(self.last_rejected_at)]
        return np.unique(np.concatenate([np.asarray(self.recent, dtype=np.int64), self.engaged_index, rejected]))

    SEEN = ("seen_index", "last_shown_at", "prob_at_last_shown", "volume_at_last_shown", "last_positive_at",
            "hidden", "last_rejected_at", "shows_24h", "shows_7d", "first_shown_7d")

    def take(self, position):
        """This user's rows over a part of the catalog (Catalog.take): `position` maps a catalog index to
        its position in the part (-1: not in it). The context markets (context_index) must be in it."""
        part = replace(self, recent=position[np.asarray(self.recent, dtype=np.int64)].tolist(),
                       engaged_index=position[self.engaged_index])
        inside = position[self.seen_index] >= 0
        for name in self.SEEN:
            setattr(part, name, getattr(self, name)[inside])
        part.seen_index = position[part.seen_index]
        return part
