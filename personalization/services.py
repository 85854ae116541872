"""What the service learns about a user (profile, session, affinities, per-market state), and their feed."""
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from datetime import timezone as dt_timezone

import numpy as np
from django.db import transaction

from feedproject.db import Epoch, bulk_upsert
from feedproject.vocabulary import REJECTIONS
from markets.selectors import market_items_get
from personalization.models import Experiment, MarketCoengagement, TopicAffinity, UserMarketState, UserProfile
from personalization.ranking.affinity import (
    CATEGORY_FACTOR,
    HALF_LIFE,
    SESSION_GAP,
    TAG_FACTOR,
    add_at,
    event_weight,
)
from personalization.ranking.caps import eligibility
from personalization.ranking.compose import sections
from personalization.ranking.config import LEARNED
from personalization.ranking.experiments import arm_assign, team_draft
from personalization.ranking.features import COMPONENTS, duplicate_groups
from personalization.ranking.rank import Ranking, rank_feed, scores, seed_for
from personalization.ranking.related import related_scores
from personalization.selectors import (
    catalog_current,
    coengagement_compute,
    coengagement_heavy_markets,
    coengagement_load,
    experiment_running,
    feed_params_current,
    local_trending_min_users,
    ranking_model_current,
    user_data_load,
)
from tracking.selectors import served_feed_get
from tracking.services import served_items_store
from tracking.velocity import market_trending_refresh

LONG, SESSION = TopicAffinity.Horizon.LONG, TopicAffinity.Horizon.SESSION
CATEGORY, TAG = TopicAffinity.TopicType.CATEGORY, TopicAffinity.TopicType.TAG


_STATE_FIELDS = (
    "first_shown_at", "last_shown_at", "impressions_total", "probability_at_last_shown",
    "volume_24h_at_last_shown", "last_positive_at", "last_negative_at", "last_rejected_at", "hidden",
)
_PROFILE_FIELDS = (
    "last_active_at", "session_started_at", "total_interactions", "total_impressions", "geo_country",
    "category_dwell",
)
_TOPIC_KEY = ("user_key", "horizon", "topic_type", "topic_value")
_HALF_LIFE_SECONDS = {horizon: half_life.total_seconds() for horizon, half_life in HALF_LIFE.items()}


@dataclass(slots=True)
class _MarketState:
    """A UserMarketState row as the ingestion loop edits it (plain values, no model instance)."""

    first_shown_at: datetime | None = None
    last_shown_at: datetime | None = None
    impressions_total: int = 0
    probability_at_last_shown: float | None = None
    volume_24h_at_last_shown: float | None = None
    last_positive_at: datetime | None = None
    last_negative_at: datetime | None = None
    last_rejected_at: datetime | None = None
    hidden: bool = False


@transaction.atomic(savepoint=False)
def user_state_apply(*, events, now):
    """Apply accepted events (ingestion.services.Event) to their users' state; returns {user_key: country}.

    Each user's profile row is locked first, so concurrent batches of one user are applied
    one after the other; the rest is read-modify-write in a fixed number of queries, on
    plain tuples (a model instance per row would cost more than its write).
    """
    events = sorted(events, key=lambda e: (e.user_key, e.at))
    users = sorted({e.user_key for e in events})
    # A new profile takes the model's field defaults (the table has no defaults of its own).
    new_profile = tuple(UserProfile._meta.get_field(f).get_default() for f in _PROFILE_FIELDS)
    bulk_upsert(
        UserProfile,
        ("user_key", "created_at", *_PROFILE_FIELDS),
        [(u, now, *new_profile) for u in users],
        conflict=("user_key",),
    )
    profiles = {
        p.user_key: p
        for p in UserProfile.objects.select_for_update().filter(user_key__in=users).order_by("user_key")
    }

    interactions = [e for e in events if e.event_type]
    affinities = _affinities_load(interactions)
    states = {
        (user_key, market_id): _MarketState(*values)
        for user_key, market_id, *values in UserMarketState.objects.filter(
            user_key__in=users, market_id__in={e.market.pk for e in events}
        ).values_list("user_key", "market_id", *_STATE_FIELDS)
    }
    session_reset, touched, changed = set(), set(), set()
    # What each kind of event is worth is the editors' (the home config's "events"): one set of
    # values for a user's taste, whichever surface the event came from.
    values = feed_params_current("home", now=now).events

    for e in events:
        profile = profiles[e.user_key]
        if profile.last_active_at is None or e.at - profile.last_active_at > SESSION_GAP:
            profile.session_started_at = e.at
            session_reset.add(e.user_key)
            for key in [k for k in affinities if k[0] == e.user_key and k[1] == SESSION]:
                del affinities[key]
                touched.discard(key)
        if profile.last_active_at is None or e.at > profile.last_active_at:
            profile.last_active_at = e.at

        state = states.get((e.user_key, e.market.pk))
        if state is None:
            state = states[(e.user_key, e.market.pk)] = _MarketState()
        changed.add((e.user_key, e.market.pk))
        if not e.event_type:
            profile.total_impressions += 1
            _impression_apply(state, e)
            continue

        profile.total_interactions += 1
        if e.geo_country:
            profile.geo_country = e.geo_country
        if e.dwell_ms is not None:
            dwell = profile.category_dwell.setdefault(e.market.category, {"count": 0, "total_ms": 0})
            dwell["count"] += 1
            dwell["total_ms"] += e.dwell_ms
        weight = event_weight(e.event_type, e.dwell_ms, values)
        _interaction_apply(state, e, weight)
        if weight == 0:
            continue
        at = e.at.timestamp()
        horizons = (LONG, SESSION) if e.at >= profile.session_started_at else (LONG,)
        topics = [(CATEGORY, e.market.category, weight * CATEGORY_FACTOR)]
        topics += [(TAG, tag, weight * TAG_FACTOR) for tag in e.market.tags]
        for horizon in horizons:
            half_life = _HALF_LIFE_SECONDS[horizon]
            for topic_type, value, delta in topics:
                key = (e.user_key, horizon, topic_type, value)
                score, updated_at = affinities.get(key, (0.0, None))
                affinities[key] = add_at(score, updated_at, delta, at, half_life)
                touched.add(key)

    if session_reset:
        TopicAffinity.objects.filter(user_key__in=session_reset, horizon=SESSION).delete()
    bulk_upsert(
        TopicAffinity,
        (*_TOPIC_KEY, "score", "updated_at"),
        [(*key, score, _from_epoch(at)) for key in sorted(touched) for score, at in [affinities[key]]],
        conflict=_TOPIC_KEY,
        replace=("score", "updated_at"),
    )
    bulk_upsert(
        UserMarketState,
        ("user_key", "market", *_STATE_FIELDS, "updated_at"),
        [(*key, *(getattr(states[key], f) for f in _STATE_FIELDS), now) for key in sorted(changed)],
        conflict=("user_key", "market"),
        replace=(*_STATE_FIELDS, "updated_at"),
    )
    bulk_upsert(
        UserProfile,
        ("user_key", "created_at", *_PROFILE_FIELDS),
        [(p.user_key, p.created_at, *(getattr(p, f) for f in _PROFILE_FIELDS)) for p in profiles.values()],
        conflict=("user_key",),
        replace=_PROFILE_FIELDS,
    )
    return {key: p.geo_country for key, p in profiles.items()}


def _affinities_load(interactions):
    """{(user, horizon, type, value): (score, updated_at as epoch seconds)} for the topics these events touch."""
    if not interactions:
        return {}
    values = {e.market.category for e in interactions} | {t for e in interactions for t in e.market.tags}
    rows = TopicAffinity.objects.filter(
        user_key__in={e.user_key for e in interactions}, topic_value__in=values
    ).values_list(*_TOPIC_KEY, "score", Epoch("updated_at"))
    return {(u, h, t, v): (score, at) for u, h, t, v, score, at in rows}


def _from_epoch(seconds):
    return datetime.fromtimestamp(seconds, tz=dt_timezone.utc)


def _impression_apply(state, e):
    state.impressions_total += 1
    if state.first_shown_at is None or e.at < state.first_shown_at:
        state.first_shown_at = e.at
    if state.last_shown_at is None or e.at >= state.last_shown_at:
        state.last_shown_at = e.at
        state.probability_at_last_shown = e.market.probability
        state.volume_24h_at_last_shown = e.market.volume_24h


def _interaction_apply(state, e, weight):
    if e.event_type == "hide":
        state.hidden = True
    elif e.event_type == "unhide":
        state.hidden = False
    if weight > 0 and (state.last_positive_at is None or e.at > state.last_positive_at):
        state.last_positive_at = e.at
    elif weight < 0 and (state.last_negative_at is None or e.at > state.last_negative_at):
        state.last_negative_at = e.at
    if e.event_type in REJECTIONS and (state.last_rejected_at is None or e.at > state.last_rejected_at):
        state.last_rejected_at = e.at


@dataclass
class FeedResult:
    feed_request_id: str
    user_key: str
    surface: str
    generated_at: datetime
    degraded: bool
    config_version: int
    catalog: object
    ranking: object
    model_version: int | None = None  # the learned model that ranked it, None for the formula
    experiment_id: int | None = None  # the experiment the feed was served in, and the user's arm
    arm: str = ""
    # Interleaving: per item, (arm, config version, model version) of the arm that picked it.
    credits: list | None = None


def _ranker(params, now):
    """The learned model when the config asks for one and one is active; None: the formula ranks."""
    return ranking_model_current(now=now) if params.ranker.model == LEARNED else None


def _ranking_for(user_key, surface, now):
    """(params, model, experiment, arm name) that rank for this user: the surface's active config and
    model, or those of the user's arm while an experiment runs on the surface."""
    params = feed_params_current(surface, now=now)
    experiment = experiment_running(surface, now=now)
    if experiment is None:
        return params, _ranker(params, now), None, ""
    arm = experiment.arms[arm_assign(experiment.salt, user_key, [a.share for a in experiment.arms])]
    return (*_arm_ranking(arm, params, now), experiment, arm.name)


def _arm_ranking(arm, active_params, now):
    """(params, model) of an experiment arm: its config (else the surface's active one) and its model (else
    the formula or the active model, as those params say)."""
    params = arm.params or active_params
    return params, arm.model or _ranker(params, now)


class NotInCatalog(LookupError):
    """The market a related feed is asked for is not an open market."""


def feed_build(*, user_key, surface="home", limit=20, country="", now, feed_request_id=None, category=None,
               market_id=None):
    """Rank a feed for `user_key`: the in-memory catalog, the user's own rows, the active config and model.
    `category`: the category surface's one category; `market_id`: the market_related surface's market
    (NotInCatalog when it is not open)."""
    feed_request_id = str(feed_request_id or uuid.uuid4())
    catalog, degraded = catalog_current(now=now)
    params, model, experiment, arm = _ranking_for(user_key, surface, now)
    user = user_data_load(user_key=user_key, catalog=catalog, now=now, country=country)
    seed = seed_for(user_key, feed_request_id)
    related = None
    if market_id is not None:
        x = catalog.index_of_market_id.get(market_id)
        if x is None:
            raise NotInCatalog(market_id)
        coengaged, engagers = coengagement_load(market_pk=int(catalog.pk[x]), catalog=catalog, now=now)
        related = related_scores(catalog, x, coengaged, engagers=engagers)
    if experiment is not None and experiment.mode == Experiment.Mode.INTERLEAVE:
        ranking, credits = _interleaved(catalog, user, experiment, surface=surface, now=now, limit=limit, seed=seed,
                                        category=category, related=related)
        return FeedResult(feed_request_id, user_key, surface, now, degraded, credits[0][1] if credits else 0,
                          catalog, ranking, None, experiment.id, "", credits)
    ranking = rank_feed(catalog, user, params, now=now.timestamp(), limit=limit, seed=seed, surface=surface,
                        model=model, category=category, related=related)
    return FeedResult(
        feed_request_id, user_key, surface, now, degraded, params.version, catalog, ranking,
        model.version if model else None, experiment.id if experiment else None, arm,
    )


def _interleaved(catalog, user, experiment, *, surface, now, limit, seed, category=None, related=None):
    """Both arms rank the feed; team-draft interleaving merges them (ranking/experiments.py).

    Returns (Ranking, credits): each item keeps the arm ranking's reason and components; its
    propensity is dropped (the merge changes the chance an exploration pick had)."""
    active = feed_params_current(surface, now=now)
    rankings, arms = [], []
    for spec in experiment.arms[:2]:
        params, model = _arm_ranking(spec, active, now)
        rankings.append(rank_feed(catalog, user, params, now=now.timestamp(), limit=limit, seed=seed,
                                  surface=surface, model=model, category=category, related=related))
        arms.append((spec.name, params.version, model.version if model else None, params.diversity.top_n))
    picks = team_draft(
        [[it.index for it in r.items] for r in rankings], limit=limit, rng=np.random.default_rng([seed, 1]),
        groups=duplicate_groups(catalog), top_n=min(a[3] for a in arms),
    )
    by_index = [{it.index: it for it in r.items} for r in rankings]
    names = sections(len(picks))
    items = [
        replace(by_index[arm][i], position=position, section=names[position], propensity=None)
        for position, (i, arm) in enumerate(picks)
    ]
    first = rankings[0]
    ranking = Ranking(items=items, filtered=first.filtered, beta=first.beta, cold_start=first.cold_start)
    return ranking, [arms[arm][:3] for _, arm in picks]


def feed_serve(**kwargs):
    """`feed_build`, and the feed logged as served (tracking.ServedItem): what a user is shown goes here.

    The admin preview builds without serving: a look at someone's feed is not traffic. The feed
    API builds, answers, and records after the response (`feed_served_record`).
    """
    result = feed_build(**kwargs)
    feed_served_record(result)
    return result


class ServedToAnother(LookupError):
    """A feed_request_id that was served to another caller, or on another surface."""


@dataclass
class FeedReplay:
    """A served feed again (feed_replay): its stored rows in position order, the current catalog to draw the
    cards from, and the cards of markets that left the catalog since (`gone`: market pk -> market item)."""

    feed_request_id: str
    user_key: str
    surface: str
    generated_at: datetime
    degraded: bool
    config_version: int
    model_version: int | None
    catalog: object
    rows: list
    gone: dict


def feed_replay(*, user_key, surface, feed_request_id, now):
    """The feed served under `feed_request_id` (tracking.ServedItem), to replay: same markets, same order, same
    reasons; the cards' data (odds, volume, title) as they are now. None when that id was never served (the
    caller ranks a new feed under it); ServedToAnother when it was served to another caller or surface."""
    rows = served_feed_get(feed_request_id=feed_request_id)
    if not rows:
        return None
    if rows[0]["user_key"] != user_key or rows[0]["surface"] != surface:
        raise ServedToAnother(feed_request_id)
    catalog, degraded = catalog_current(now=now)
    gone = [row["market_id"] for row in rows if row["market_id"] not in catalog.index_of_pk]
    return FeedReplay(
        str(feed_request_id), user_key, surface, rows[0]["served_at"], degraded, rows[0]["config_version"],
        rows[0]["model_version"], catalog, rows, market_items_get(market_pks=gone) if gone else {},
    )


def feed_served_record(result):
    """Log a built feed (a FeedResult) as served, item by item, in one statement."""
    catalog = result.catalog
    items = []
    for k, it in enumerate(result.ranking.items):
        config_version, model_version, arm = _credit(result, k)
        items.append((int(catalog.pk[it.index]), config_version, model_version, it.position, it.pool, it.reason,
                      it.score, it.components, it.propensity, arm, it.reason_text[:200]))
    served_items_store(
        feed_request_id=result.feed_request_id, user_key=result.user_key, surface=result.surface,
        served_at=result.generated_at, experiment_id=result.experiment_id, items=items,
    )


def _credit(result, k):
    """(config version, model version, arm) that placed the k-th item: the arm that picked it when
    interleaved, else the feed's."""
    if result.credits:
        arm, config_version, model_version = result.credits[k]
        return config_version, model_version, arm
    return result.config_version, result.model_version, result.arm


def markets_rank(*, user_key, market_ids, surface="home", country="", now):
    """The given markets in this user's rank order: (ranked [(index, score, components, left_out_by)], unknown ids)."""
    catalog, degraded = catalog_current(now=now)
    params, model, _, _ = _ranking_for(user_key, surface, now)
    user = user_data_load(user_key=user_key, catalog=catalog, now=now, country=country)
    position = {market_id: i for i, market_id in enumerate(catalog.market_id)}
    wanted = [position[m] for m in dict.fromkeys(market_ids) if m in position]
    unknown = [m for m in dict.fromkeys(market_ids) if m not in position]
    scored = scores(catalog, user, params, now.timestamp(), surface, model)
    blocked = eligibility(catalog, user, params, now.timestamp()).blocked
    # Markets the feed would leave out go last, each group by score.
    wanted.sort(key=lambda i: (i in blocked, -scored.final[i]))
    ranked = [
        (i, float(scored.final[i]), {name: float(scored.features[name][i]) for name in COMPONENTS}, blocked.get(i))
        for i in wanted
    ]
    return catalog, ranked, unknown, degraded


def market_trending_refresh_configured(*, now):
    """Trending as of `now`, with the local minimum of users of the feed configs active now.

    What the trending task runs, and the simulator on its own clock: the minimum is a feed-config
    setting, so it is read here, above the activity buckets that trending aggregates.
    """
    return market_trending_refresh(now=now, min_users=local_trending_min_users())


def coengagement_refresh(*, now, on_chunk=None):
    """Compute the co-engagement of every market with many engagers (coengagement_heavy_markets) as of
    `now` into MarketCoengagement, and drop the rows of the markets that no longer have them: the
    related surface then reads one row where it would sum thousands of engagements. Every 5 minutes."""
    heavy = coengagement_heavy_markets(now=now)
    rows = []
    for k, market_pk in enumerate(heavy):
        pairs, engagers = coengagement_compute(market_pk=market_pk, now=now)
        rows.append((market_pk, now, engagers, pairs))
        if on_chunk is not None and k % 100 == 99:
            on_chunk()
    with transaction.atomic():
        bulk_upsert(MarketCoengagement, ["market", "computed_at", "engagers", "pairs"], rows, conflict=["market"],
                    replace=["computed_at", "engagers", "pairs"])
        dropped, _ = MarketCoengagement.objects.exclude(computed_at=now).delete()  # markets no longer heavy
    return {"markets": len(rows), "dropped": dropped}
