"""The loading layer of the feed: catalog arrays kept in memory, and one user's rows per request.

The per-market inputs (category, tags, dates, trending, rising, boosts) are shared by every
user, so each process keeps them as numpy arrays (`personalization.ranking.inputs.Catalog`)
and reloads them when the catalog version in the cache moves (bumped by market updates,
imports, editors and the beat tasks, which run every minute), at most every few seconds; when
the cache cannot be reached, every minute. Those ages are measured on the `now` of the
request that asks, never on the wall clock, so a replay or a simulation on its own clock
reloads as live traffic would. Per request, only the user's own rows are read, in a fixed
number of queries whatever the catalog size.

`profile_get` is the read of GET /api/profile: what the service knows about one user.
"""
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.db.models import Count, FloatField, Min, Q, Sum, Value
from django.db.models.functions import Power

from feedproject.cache import cache_get, cache_set
from feedproject.db import Epoch, values_rows
from feedproject.vocabulary import ENGAGEMENTS
from markets.models import EditorialBoost, Market, MarketVelocity, Tag
from markets.selectors import MarketInfo, markets_for_ingest
from markets.services import CATALOG_VERSION_KEY
from personalization.experiments import experiment_version_cache_key
from personalization.feed_configs import feed_config_version_cache_key
from personalization.models import (
    Experiment,
    FeedConfig,
    MarketCoengagement,
    RankingModel,
    TopicAffinity,
    UserMarketState,
    UserProfile,
)
from personalization.ranking.affinity import HALF_LIFE, SESSION_GAP, decayed
from personalization.ranking.config import PARAMS_BY_KEY
from personalization.ranking.inputs import Boosts, Catalog, UserData, sorted_positions
from personalization.ranking.learned import Model
from personalization.ranking.params import FeedParams
from personalization.ranking.related import (
    COENGAGEMENT_HALF_LIFE_SECONDS,
    COENGAGEMENT_MARKETS,
    COENGAGEMENT_USERS,
    COENGAGEMENT_WINDOW,
    content_matrix,
)
from personalization.training import ACTIVE_MODEL_KEY
from tracking.models import Impression, Interaction

MIN_RELOAD_SECONDS = 5  # catalog: a burst of market updates reloads the arrays once, not once per update
MAX_AGE_SECONDS = 60  # with the cache down, reload this often: no bump can be seen then
RECENT_LIMIT = 20
CHUNK = 5000
RECENT_TYPES = ("view_market", "click")
# The engagements a reason text may cite ("Because you saved 3 Crypto markets"): the latest of 30 days.
EVIDENCE_WINDOW = timedelta(days=30)
EVIDENCE_LIMIT = 500
PROFILE_RECENT_LIMIT = 50
PROFILE_RECENT_WINDOW = timedelta(days=7)
# Hits and misses older than this are not read: at the long half-life (30 days) they would weigh under 2%.
HITS_WINDOW = timedelta(days=180)


@dataclass
class MarketDisplay:
    """What a feed item shows besides the ranking arrays (kept with the catalog, no query per item)."""

    image_url: list
    volume_total: np.ndarray
    resolution_date: list
    tag_labels: list
    odds_change_24h: np.ndarray  # probability now minus 24 h ago (global velocity), 0 when not computed

    def tags_of(self, catalog, i):
        pad = len(self.tag_labels)
        return [self.tag_labels[t] for t in catalog.tags[i] if t != pad]


class _Cached:
    """A value rebuilt when its version stamp moves; thread-safe, one rebuild at a time.

    Ages are seconds between the callers' `now`s. A `now` earlier than the load (a request
    that read its clock a moment before another thread's, an event batch received in the
    past) counts as age 0: the value is the database's current state, whatever time the
    caller works in, so only a version bump or, with the cache down, time moving on renews it.
    """

    def __init__(self, version_key, build, min_reload_seconds=0.0):
        self.version_key, self.build, self.min_reload = version_key, build, min_reload_seconds
        self.value, self.version, self.loaded_at = None, None, None
        self.lock = threading.Lock()
        self.degraded = False

    def _age(self, now):
        if self.value is None or self.loaded_at is None:
            return None
        return max(0.0, (now - self.loaded_at).total_seconds())

    def get(self, now):
        version, ok = cache_get(self.version_key)
        self.degraded = not ok
        age = self._age(now)
        # A reachable cache's version is the truth: every write bumps it and so does each beat run,
        # which also repairs a bump lost to a cache blip within a minute.
        stale = age is None or (version != self.version if ok else age > MAX_AGE_SECONDS)
        if stale and (age is None or age >= self.min_reload):
            with self.lock:
                age = self._age(now)
                if age is None or age >= self.min_reload:
                    self.value = self.build()
                    self.version, self.loaded_at = version, max(now, self.loaded_at or now)
        return self.value

    def reset(self):
        self.value, self.version, self.loaded_at = None, None, None


def catalog_build():
    """Open markets as ranking arrays plus their display fields, read in streamed chunks.

    With the related surface's TF-IDF of the markets' texts (refitted only when the texts changed:
    ranking/related.py). A handful of queries whatever happens; rows are folded into arrays as they arrive, so
    the peak memory is the arrays, not the rows (bench/feed.py at 50,000 markets). Every
    boost of an open market is loaded, ended or not: the catalog is shared by requests of
    any time, and the ranking keeps those whose window holds its own `now`.
    """
    open_markets = Market.objects.filter(status=Market.Status.OPEN)
    columns = defaultdict(list)
    names = ("pk", "market_id", "title", "category", "probability", "volume_24h", "volume_total", "created_at",
             "news_at", "event_start_at", "image_url", "resolution_date", "event_id")
    epochs = {"created_at", "news_at", "event_start_at"}
    query = open_markets.order_by("pk").values_list(
        *[Epoch(name) if name in epochs else name for name in names]
    )
    for row in query.iterator(chunk_size=CHUNK):
        for name, value in zip(names, row, strict=True):
            columns[name].append(value)
    pks = columns["pk"]
    index = {pk: i for i, pk in enumerate(pks)}
    n = len(pks)

    tag_rows = dict(
        ((pk, (slug, label)) for pk, slug, label in Tag.objects.filter(markets__status=Market.Status.OPEN)
         .distinct().values_list("pk", "slug", "label"))
    )
    tag_pks = sorted(tag_rows)
    tag_code = {pk: code for code, pk in enumerate(tag_pks)}
    pad = len(tag_pks)
    links = defaultdict(list)
    for market_pk, tag_pk in (
        Market.tags.through.objects.filter(market__status=Market.Status.OPEN)
        .values_list("market_id", "tag_id").iterator(chunk_size=CHUNK)
    ):
        links[index[market_pk]].append(tag_code[tag_pk])
    width = max((len(v) for v in links.values()), default=1)
    tags = np.full((n, width), pad, dtype=np.int32)
    for i, codes in links.items():
        tags[i, : len(codes)] = codes
    del links
    categories = sorted(set(columns["category"]))
    category_code = {c: i for i, c in enumerate(categories)}

    trending_global, rising, odds_change = np.zeros(n), np.zeros(n), np.zeros(n)
    trending_local, local_users = {}, {}
    for market_pk, scope, trending, rising_score, users, change in (
        MarketVelocity.objects.filter(market__status=Market.Status.OPEN)
        .values_list("market_id", "scope", "trending_score", "rising_score", "engaged_users_24h", "odds_change_24h")
        .iterator(chunk_size=CHUNK)
    ):
        i = index[market_pk]
        if scope == "global":
            trending_global[i], rising[i], odds_change[i] = trending, rising_score, change
        else:
            if scope not in trending_local:
                trending_local[scope] = np.zeros(n, dtype=np.float32)
                local_users[scope] = np.zeros(n, dtype=np.int32)
            trending_local[scope][i], local_users[scope][i] = trending, users

    boosts = list(
        EditorialBoost.objects.filter(market__status=Market.Status.OPEN).values_list(
            "market_id", "value", Epoch("starts_at"), Epoch("ends_at"), "surfaces", "pinned_slot"
        )
    )
    catalog = Catalog(
        pk=np.array(pks, dtype=np.int64),
        market_id=columns["market_id"],
        title=columns["title"],
        category=np.array([category_code[c] for c in columns["category"]], dtype=np.int32),
        categories=categories,
        tags=tags,
        tag_count=(tags != pad).sum(axis=1),
        tag_slugs=[tag_rows[pk][0] for pk in tag_pks],
        tag_labels=[tag_rows[pk][1] for pk in tag_pks],
        probability=np.array(columns["probability"], dtype=float),
        volume_24h=np.array(columns["volume_24h"], dtype=float),
        created_at=_floats(columns["created_at"]),
        news_at=_floats(columns["news_at"]),
        event_start_at=_floats(columns["event_start_at"]),
        has_image=np.array([bool(url) for url in columns["image_url"]], dtype=bool),
        trending_global=trending_global,
        rising=rising,
        trending_local=trending_local,
        local_users_24h=local_users,
        boosts=Boosts(
            index=np.array([index[b[0]] for b in boosts], dtype=np.int64),
            value=np.array([b[1] for b in boosts], dtype=float),
            starts_at=np.array([b[2] for b in boosts], dtype=float),
            ends_at=np.array([b[3] for b in boosts], dtype=float),
            surfaces=[tuple(b[4] or ()) for b in boosts],
            pinned_slot=np.array([-1 if b[5] is None else b[5] for b in boosts], dtype=np.int64),
        ),
        event=np.array([-1 if e is None else e for e in columns["event_id"]], dtype=np.int64),
    )
    catalog.display = MarketDisplay(
        image_url=columns["image_url"],
        volume_total=np.array(columns["volume_total"], dtype=float),
        resolution_date=columns["resolution_date"],
        tag_labels=catalog.tag_labels,
        odds_change_24h=odds_change,
    )
    content_matrix(catalog)  # the related surface's TF-IDF, fitted here so that no request pays for it
    return catalog


def _floats(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


_catalog = _Cached(CATALOG_VERSION_KEY, catalog_build, MIN_RELOAD_SECONDS)


def catalog_current(*, now):
    """(catalog, degraded): the in-memory catalog as of `now`, and whether the cache could not be asked about it."""
    return _catalog.get(now), _catalog.degraded


_configs = {}


def feed_params_current(surface, *, now):
    """The active FeedConfig of `surface` as FeedParams, reloaded when its version stamp moves."""
    if surface not in _configs:
        def build(surface=surface):
            config = FeedConfig.objects.filter(surface=surface, is_active=True).first()
            return FeedParams.from_dict(config.params if config else None, version=config.version if config else 0)

        _configs[surface] = _Cached(feed_config_version_cache_key(surface), build)
    return _configs[surface].get(now)


def _active_model_build():
    row = RankingModel.objects.filter(is_active=True).values_list("version", "payload").first()
    return Model(version=row[0], payload=row[1]) if row else None


_model = _Cached(ACTIVE_MODEL_KEY, _active_model_build)


def ranking_model_current(*, now):
    """The active RankingModel as a learned.Model, or None (the formula ranks); reloaded when activation moves."""
    return _model.get(now)


@dataclass(frozen=True)
class ExperimentArmSpec:
    name: str
    share: float
    params: FeedParams | None  # None: the surface's active config
    model: Model | None  # None: the formula or the active model, as the config says


@dataclass(frozen=True)
class RunningExperiment:
    id: int
    mode: str
    salt: str
    starts_at: float  # epoch seconds
    ends_at: float
    arms: tuple

    def live(self, now):
        return self.starts_at <= now.timestamp() < self.ends_at


_experiments = {}


def _experiment_build(surface):
    experiment = (
        Experiment.objects.filter(surface=surface, status=Experiment.Status.RUNNING)
        .prefetch_related("arms__feed_config", "arms__ranking_model").first()
    )
    if experiment is None:
        return (None,)  # a held value: _Cached rebuilds what is None
    arms = tuple(
        ExperimentArmSpec(
            name=arm.name, share=arm.share,
            params=FeedParams.from_dict(arm.feed_config.params, version=arm.feed_config.version)
            if arm.feed_config else None,
            model=Model(version=arm.ranking_model.version, payload=arm.ranking_model.payload)
            if arm.ranking_model else None,
        )
        for arm in experiment.arms.all()
    )
    return (RunningExperiment(experiment.pk, experiment.mode, experiment.salt, experiment.starts_at.timestamp(),
                              experiment.ends_at.timestamp(), arms),)


def experiment_running(surface, *, now):
    """The experiment running on `surface` at `now` (inside its window) with its arms' params and models, or None.

    Held in memory and reloaded when a start, stop or promotion moves its version stamp."""
    if surface not in _experiments:
        _experiments[surface] = _Cached(experiment_version_cache_key(surface), lambda: _experiment_build(surface))
    (experiment,) = _experiments[surface].get(now)
    return experiment if experiment is not None and experiment.live(now) else None


# A market with this many engagers or more has its co-engagement computed by the beat every 5 minutes
# (personalization.coengagement_refresh, into MarketCoengagement) and, when the beat's row is not fresh,
# kept in the cache for a while: its read sums thousands of engagements (bench/related_feed.py), and one
# more engagement moves it little. Below, the read is cheap and always fresh, so a new market's first
# engagers count at once.
COENGAGEMENT_CACHE_MIN_USERS = 50
COENGAGEMENT_CACHE_SECONDS = 600  # how far from a request's `now` a computed co-engagement may be
COENGAGEMENT_READ_PER_USER = 4  # the engagers are found among the market's latest 4 x 300 engagements


def _engagements(now):
    return Interaction.objects.filter(
        event_type__in=ENGAGEMENTS, occurred_at__gte=now - COENGAGEMENT_WINDOW, occurred_at__lte=now
    )


def coengagement_compute(*, market_pk, now):
    """([(market pk, weight), ...], engagers): the markets engaged with by the users of the latest 1,200
    engagements with `market_pk` in the last 30 days (at most 300 users), each engagement weighted
    2^(-age / 7 days) (ranking/related.py), the market itself left out; the 1,000 heaviest, heaviest
    first; and how many users those were. Two queries, the database summing the weights."""
    engagements = _engagements(now)
    # The users of the market's latest engagements, read newest first down its (market, time) index:
    # no sort of all its engagements by user, which costs tens of ms for a market with thousands.
    latest = engagements.filter(market_id=market_pk).order_by("-occurred_at").values_list("user_key", flat=True)
    users = list(dict.fromkeys(latest[: COENGAGEMENT_USERS * COENGAGEMENT_READ_PER_USER]))[:COENGAGEMENT_USERS]
    if not users:
        return [], 0
    decay = Power(Value(2.0), (Epoch("occurred_at") - Value(now.timestamp())) / Value(COENGAGEMENT_HALF_LIFE_SECONDS))
    pairs = values_rows(
        engagements.filter(user_key__in=users).exclude(market_id=market_pk).values("market_id")
        .annotate(weight=Sum(decay, output_field=FloatField())).order_by("-weight", "market_id")
        .values_list("market_id", "weight")[:COENGAGEMENT_MARKETS]
    )
    return pairs, len(users)


def coengagement_heavy_markets(*, now):
    """The pks of the markets with at least COENGAGEMENT_CACHE_MIN_USERS engagers in the last 30 days."""
    return list(
        _engagements(now).values("market_id").annotate(users=Count("user_key", distinct=True))
        .filter(users__gte=COENGAGEMENT_CACHE_MIN_USERS).order_by("market_id").values_list("market_id", flat=True)
    )


def coengagement_load(*, market_pk, catalog, now):
    """({catalog index: weight}, engagers): coengagement_compute's answer for `market_pk` over the open
    markets of `catalog`.

    For a market with many engagers it comes from the beat's MarketCoengagement row, or else from the
    cache, when computed within 10 minutes of `now` (another clock, a replay, computes its own); it is
    computed here otherwise, and cached when the market has 50 engagers or more.
    """
    pairs = engagers = None
    stored = MarketCoengagement.objects.filter(
        market_id=market_pk, computed_at__gte=now - timedelta(seconds=COENGAGEMENT_CACHE_SECONDS),
        computed_at__lte=now + timedelta(seconds=COENGAGEMENT_CACHE_SECONDS),
    ).values_list("pairs", "engagers").first()
    if stored is not None:
        pairs, engagers = stored
    else:
        key = f"coengagement:{market_pk}"
        cached, _ = cache_get(key)
        if cached is not None and abs(now.timestamp() - cached[0]) <= COENGAGEMENT_CACHE_SECONDS:
            pairs, engagers = cached[1], cached[2]
        else:
            pairs, engagers = coengagement_compute(market_pk=market_pk, now=now)
            if engagers >= COENGAGEMENT_CACHE_MIN_USERS:
                cache_set(key, (now.timestamp(), pairs, engagers), COENGAGEMENT_CACHE_SECONDS)
    index = catalog.index_of_pk
    return {index[pk]: weight for pk, weight in pairs if pk in index}, engagers


def local_trending_min_users():
    """The smallest `features.local_min_users` of the active feed configs (the parameter's default without one).

    Local trending is ranked among markets with at least that many users; a surface that
    asks for more applies its own threshold to engaged_users_24h when it ranks.
    """
    values = [
        params.get("features", {}).get("local_min_users")
        for params in FeedConfig.objects.filter(is_active=True).values_list("params", flat=True)
    ]
    values = [int(v) for v in values if isinstance(v, (int, float))]
    return min(values) if values else int(PARAMS_BY_KEY["features.local_min_users"].default)


def caches_reset():
    """Forget every in-memory copy (tests, and after a restore of the database)."""
    _catalog.reset()
    _model.reset()
    _closed_topics.clear()
    for cached in (*_configs.values(), *_experiments.values()):
        cached.reset()


def _closed_market_topics(market_pks):
    """{market pk: [(topic_type, value), ...]} of markets outside the catalog (closed or resolved), from a
    per-process memo filled by one query for the ones it has not seen: a closed market's topics do not
    change, so a warm process reads nothing."""
    unknown = [pk for pk in market_pks if pk not in _closed_topics]
    if unknown:
        for pk, category, tag in Market.objects.filter(pk__in=unknown).values_list("pk", "category", "tags__slug"):
            entry = _closed_topics.setdefault(pk, [("category", category)])
            if tag is not None:
                entry.append(("tag", tag))
    return {pk: _closed_topics[pk] for pk in market_pks if pk in _closed_topics}


_closed_topics = {}


def topic_hits_count(pk, index, shown, positive, catalog, *, now, session_start=None):
    """Per topic, the user's hits and trials: (long, session), each {(topic_type, value): (hits, trials)}.

    Per market the user has a state for: `pk`, its catalog `index` (-1: not open), its last showing
    and its last positive event in epoch seconds (arrays, NaN: never), sorted by pk. A trial is a
    market shown (or engaged with) within HITS_WINDOW, a hit one the user engaged with, closed
    markets included. Long: each weighs 2^(-age / 30 days), its age from its last showing or
    engagement, like the affinities. Session: the markets shown or engaged with since
    `session_start` (epoch; None: no live session), a hit when engaged with since then.

    The open markets' topics come from the catalog's arrays and are summed per topic code in one
    pass (np.bincount, in the markets' order); the few closed ones are added one by one.
    """
    if not len(pk):
        return {}, {}
    t = now.timestamp()
    latest = np.fmax(shown, positive)  # the later of the two that exist; NaN when neither does
    with np.errstate(invalid="ignore"):
        trial = latest >= t - HITS_WINDOW.total_seconds()
        hit = ~np.isnan(positive)
        weight = np.where(trial, np.exp2(-np.maximum(t - latest, 0.0) / HALF_LIFE["long"].total_seconds()), 0.0)
        live = session_start is not None
        in_session = trial & (latest >= session_start) if live else np.zeros(len(pk), dtype=bool)
        session_hit = in_session & (positive >= session_start) if live else in_session
    open_ = trial & (index >= 0)

    sums = {}  # horizon -> (hits, trials) per category code and per tag code
    i = index[open_]
    categories, tags = catalog.category[i], catalog.tags[i]
    n_tags = len(catalog.tag_slugs) + 1  # the padding code last
    for horizon, h, n in (("long", (weight * hit)[open_], weight[open_]),
                          ("session", session_hit[open_] * 1.0, in_session[open_] * 1.0)):
        per_tag = lambda w: np.bincount(tags.ravel(), np.repeat(w, tags.shape[1]), n_tags)[:-1]  # noqa: E731
        sums[horizon] = (
            np.bincount(categories, h, len(catalog.categories)), np.bincount(categories, n, len(catalog.categories)),
            per_tag(h), per_tag(n),
        )
    counts = {"long": {}, "session": {}}
    for horizon, (cat_h, cat_n, tag_h, tag_n) in sums.items():
        out = counts[horizon]
        for code in np.flatnonzero(cat_n).tolist():
            out[("category", catalog.categories[code])] = (float(cat_h[code]), float(cat_n[code]))
        for code in np.flatnonzero(tag_n).tolist():
            out[("tag", catalog.tag_slugs[code])] = (float(tag_h[code]), float(tag_n[code]))
    closed = np.flatnonzero(trial & (index < 0)).tolist()
    closed_topics = _closed_market_topics([int(pk[k]) for k in closed])
    for k in closed:
        for topic in closed_topics.get(int(pk[k]), ()):
            for horizon, h, n in (("long", weight[k] * hit[k], weight[k]), ("session", session_hit[k], in_session[k])):
                if n:
                    old_h, old_n = counts[horizon].get(topic, (0.0, 0.0))
                    counts[horizon][topic] = (old_h + float(h), old_n + float(n))
    return counts["long"], counts["session"]


def user_data_load(*, user_key, catalog, now, country=""):
    """One user's rows as UserData, in five queries whatever the catalog size (one more, once per process,
    for the topics of closed markets it has not seen).

    Times come from the database as epoch seconds (`Epoch`), so no datetime is built per row, and the
    lists of rows straight from the cursor (`values_rows`).
    """
    t = now.timestamp()
    profile = UserProfile.objects.filter(user_key=user_key).first()
    session_live = bool(profile and profile.last_active_at and now - profile.last_active_at <= SESSION_GAP)
    session_start = profile.session_started_at.timestamp() if session_live else None
    long_half, session_half = HALF_LIFE["long"].total_seconds(), HALF_LIFE["session"].total_seconds()
    long, session = {}, {}
    affinities = TopicAffinity.objects.filter(user_key=user_key).values_list(
        "horizon", "topic_type", "topic_value", "score", Epoch("updated_at")
    )
    for horizon, topic_type, value, score, updated_at in values_rows(affinities):
        if horizon == TopicAffinity.Horizon.LONG:
            long[(topic_type, value)] = decayed(score, updated_at, t, long_half)
        elif session_start is not None and updated_at >= session_start - 1e-3:
            session[(topic_type, value)] = decayed(score, updated_at, t, session_half)

    week_ago = now - timedelta(days=7)
    # Hidden markets, recent showings, past positives and rejections are all that caps, fatigue,
    # followup and the near-duplicate rule read; the showings of HITS_WINDOW are the trials of
    # hits and misses (one query for both). As columns: None comes out as NaN.
    pk, shown, prob, volume, positive, hidden, rejected = _columns(values_rows(
        UserMarketState.objects.filter(user_key=user_key)
        .filter(Q(hidden=True) | Q(last_shown_at__gte=now - HITS_WINDOW) | Q(last_positive_at__isnull=False)
                | Q(last_rejected_at__isnull=False))
        .order_by("market_id")  # the same float sums, whatever order the rows are stored in
        .values_list(
            "market_id", Epoch("last_shown_at"), "probability_at_last_shown", "volume_24h_at_last_shown",
            Epoch("last_positive_at"), "hidden", Epoch("last_rejected_at"),
        )
    ), (np.int64, float, float, float, float, bool, float))
    index = catalog.indices_of_pks(pk)
    hits_long, hits_session = topic_hits_count(pk, index, shown, positive, catalog, now=now,
                                               session_start=session_start)
    with np.errstate(invalid="ignore"):
        state = (index >= 0) & (hidden | (shown >= week_ago.timestamp()) | ~np.isnan(positive) | ~np.isnan(rejected))
    # The showings of the last 7 days, per market: how many in 24 h and in 7 days, and the first.
    shown_pk, shows_24h, shows_7d, first_7d = _columns(values_rows(
        Impression.objects.filter(user_key=user_key, shown_at__gte=week_ago)
        .values("market_id")
        .annotate(
            n24=Count("id", filter=Q(shown_at__gte=now - timedelta(hours=24))), n7=Count("id"),
            first=Epoch(Min("shown_at")),
        )
        .order_by("market_id")
        .values_list("market_id", "n24", "n7", "first")
    ), (np.int64, np.int64, np.int64, float))
    shows_24h, shows_7d, first_7d = _join(pk[state], shown_pk, ((shows_24h, 0), (shows_7d, 0), (first_7d, np.nan)))
    # The user's latest engagements, newest first: what reason texts cite, and the last day's
    # views and clicks are the recently viewed markets of the similarity feature.
    engaged_rows = values_rows(
        Interaction.objects.filter(
            user_key=user_key, event_type__in=ENGAGEMENTS, occurred_at__gte=now - EVIDENCE_WINDOW
        ).order_by("-occurred_at").values_list("market_id", "event_type", Epoch("occurred_at"))[:EVIDENCE_LIMIT]
    )
    engaged_index = catalog.indices_of_pks([r[0] for r in engaged_rows])
    engaged = [(i, r[1], r[2]) for i, r in zip(engaged_index.tolist(), engaged_rows, strict=True) if i >= 0]
    recent, day_ago = [], t - 24 * 3600
    for i, event_type, at in engaged:
        if at >= day_ago and event_type in RECENT_TYPES and i not in recent:
            recent.append(i)

    dwell = {}
    if profile:
        dwell = {c: d["total_ms"] / d["count"] for c, d in profile.category_dwell.items() if d.get("count")}
    return UserData(
        user_key=user_key,
        country=(country or (profile.geo_country if profile else "")).upper(),
        long=long,
        session=session,
        recent=recent[:RECENT_LIMIT],
        session_started_at=session_start if session_start is not None else float("nan"),
        hits_long=hits_long,
        hits_session=hits_session,
        engaged_index=np.array([e[0] for e in engaged], dtype=np.int64),
        engaged_type=[e[1] for e in engaged],
        engaged_at=np.array([e[2] for e in engaged], dtype=float),
        dwell_mean_ms=dwell,
        seen_index=index[state],
        last_shown_at=shown[state],
        prob_at_last_shown=prob[state],
        volume_at_last_shown=volume[state],
        last_positive_at=positive[state],
        hidden=hidden[state],
        last_rejected_at=rejected[state],
        shows_24h=shows_24h,
        shows_7d=shows_7d,
        first_shown_7d=first_7d,
    )


def _join(keys, table_keys, columns):
    """For each of `keys`, the row of the sorted `table_keys` equal to it: each (column, fill) of `columns`
    as an array over `keys`, its value at that row, or `fill` where there is none."""
    at = sorted_positions(table_keys, keys)
    return [np.where(at >= 0, column[np.maximum(at, 0)], fill) if len(column)
            else np.full(len(keys), fill, dtype=column.dtype) for column, fill in columns]


def _columns(rows, dtypes):
    """Rows as one array per column, of the given dtypes (None becomes NaN in a float column)."""
    if not rows:
        return [np.empty(0, dtype=dtype) for dtype in dtypes]
    return [np.array(column, dtype=dtype) for column, dtype in zip(zip(*rows, strict=True), dtypes, strict=True)]


_ingest_memo = (None, {})  # (catalog, {market_id: MarketInfo}): one MarketInfo per market per catalog


def markets_for_ingest_cached(*, market_ids, now):
    """markets.selectors.markets_for_ingest, answered from the in-memory catalog where it can.

    Open markets come from the arrays the feed itself served (so the odds recorded for an
    impression are the odds that feed showed), each built once per catalog; closed or
    brand-new markets are read.
    """
    global _ingest_memo
    catalog, _ = catalog_current(now=now)
    if _ingest_memo[0] is not catalog:
        _ingest_memo = (catalog, {})
    infos = _ingest_memo[1]
    found, missing = {}, []
    pad = len(catalog.tag_slugs)
    for market_id in market_ids:
        info = infos.get(market_id)
        if info is None:
            i = catalog.index_of_market_id.get(market_id)
            if i is None:
                missing.append(market_id)
                continue
            info = infos[market_id] = MarketInfo(
                int(catalog.pk[i]), market_id, catalog.categories[catalog.category[i]],
                tuple(sorted(catalog.tag_slugs[t] for t in catalog.tags[i] if t != pad)),
                float(catalog.probability[i]), float(catalog.volume_24h[i]),
            )
        found[market_id] = info
    if missing:
        found.update(markets_for_ingest(market_ids=missing))
    return found


def profile_get(*, user_key, now):
    """One user's profile as plain data: affinities decayed to `now`, best first, and recent interactions.

    Three queries whatever the number of affinities or events. A user the service has never
    seen gets an empty profile, not an error.
    """
    profile = UserProfile.objects.filter(user_key=user_key).first()
    affinities = {"long": [], "session": []}
    for horizon, topic_type, topic, score, updated_at in TopicAffinity.objects.filter(user_key=user_key).values_list(
        "horizon", "topic_type", "topic_value", "score", "updated_at"
    ):
        value = decayed(score, updated_at, now, HALF_LIFE[horizon])
        affinities[horizon].append({"topic_type": topic_type, "topic": topic, "value": round(value, 4)})
    for values in affinities.values():
        values.sort(key=lambda v: -v["value"])
    recent = [
        {"market_id": market_id, "event_type": event_type, "occurred_at": at}
        for market_id, event_type, at in Interaction.objects.filter(
            user_key=user_key, occurred_at__gte=now - PROFILE_RECENT_WINDOW
        ).order_by("-occurred_at").values_list("market__market_id", "event_type", "occurred_at")[:PROFILE_RECENT_LIMIT]
    ]
    return {
        "user_key": user_key,
        "country": profile.geo_country if profile else "",
        "last_active_at": profile.last_active_at if profile else None,
        "session_started_at": profile.session_started_at if profile else None,
        "total_interactions": profile.total_interactions if profile else 0,
        "affinities": affinities,
        "recent": recent,
    }
