"""Candidate features (interest, similarity, depth, freshness, followup, hits and misses, trending, rising,
boosts, penalties) and the personal and final scores, vectorized over the catalog."""
from dataclasses import dataclass, field

import numpy as np

from personalization.ranking.hits import hit_features

HOUR = 3600.0
DAY = 24 * HOUR
NEWS_24H, NEWS_7D, SPORTS_BOOST = 0.8, 0.5, 0.5
COMPONENTS = (
    "interest", "similarity", "depth", "freshness", "followup", "negative", "trending", "rising", "editorial",
    "news_boost", "sports_boost", "cooldown", "frequency", "hits_long", "hits_session",
    "interest_long", "interest_session", "popularity", "engaged", "shows_7d",
)


@dataclass
class Scored:
    features: dict  # name -> float array over the catalog
    personal: np.ndarray
    final: np.ndarray
    beta: float
    relevance: np.ndarray  # the personal pool's key: personal minus the repeat penalties
    predicted: dict = field(default_factory=dict)  # outcome -> P over the catalog, when a learned model ranks


def affinity_tables(values, catalog, prior_mass):
    """(category array, tag array) of a_t = max(v, 0) / (max positive v + k), and the same for negatives.

    Tag arrays have one extra slot (the padding code) that stays 0.
    """
    cat_v = np.zeros(len(catalog.categories))
    tag_v = np.zeros(len(catalog.tag_slugs) + 1)
    for (topic_type, value), score in values.items():
        if topic_type == "category" and value in catalog.category_code:
            cat_v[catalog.category_code[value]] = score
        elif topic_type == "tag" and value in catalog.tag_code:
            tag_v[catalog.tag_code[value]] = score
    out = []
    for sign in (1.0, -1.0):
        cat, tag = np.maximum(sign * cat_v, 0), np.maximum(sign * tag_v, 0)
        top = max(cat.max(initial=0.0), tag.max(initial=0.0))
        out.append((cat / (top + prior_mass), tag / (top + prior_mass)))
    return out  # [(positive cat, positive tag), (negative cat, negative tag)]


def interest(catalog, cat_a, tag_a):
    """0.5 a_category + 0.5 (0.7 max_tag a + 0.3 mean_tag a); markets without tags score the category half."""
    per_tag = tag_a[catalog.tags]
    counts = np.maximum(catalog.tag_count, 1)
    tag_part = 0.7 * per_tag.max(axis=1, initial=0.0) + 0.3 * per_tag.sum(axis=1) / counts
    return 0.5 * cat_a[catalog.category] + 0.5 * tag_part


def session_beta(session_values, beta_max, beta_k):
    mass = sum(abs(v) for v in session_values.values())
    return beta_max * mass / (mass + beta_k)


def topic_overlap(catalog, index):
    """(n, k) Jaccard overlap of every market's {category} ∪ tags with those of the markets `index`."""
    sizes = catalog.tag_count + 1
    inter = catalog.topics @ catalog.topics[index].T.toarray()  # shared topics: sparse times dense, no sparse product
    return inter / (sizes[:, None] + sizes[index][None, :] - inter)


def similarity(catalog, recent):
    """Max Jaccard overlap of {category} ∪ tags with the recently viewed markets (each excluded from itself)."""
    n = len(catalog)
    if not recent:
        return np.zeros(n)
    recent = np.asarray(recent)
    jaccard = topic_overlap(catalog, recent)
    jaccard[recent, np.arange(len(recent))] = 0.0
    return jaccard.max(axis=1)


NEAR_DUPLICATE_OVERLAP = 0.75  # topic-set Jaccard from which two markets count as near-duplicates


def duplicate_groups(catalog):
    """Each market's near-duplicate group (an int code): markets of one group ask the same question.

    Markets whose titles differ only in their numbers (another day or threshold) and the outcomes
    of one event (`Catalog.question_group`). The composer holds the first N to one market of a
    group and scores further ones down; a hide or not_interested lowers the whole group.
    """
    return catalog.question_group


def rejected(user, now, memory_days):
    """Catalog indices of the markets this user hid or turned down (not_interested) in the last `memory_days`."""
    with np.errstate(invalid="ignore"):
        recent = now - user.last_rejected_at <= memory_days * DAY
    return user.seen_index[recent]


def rejection_similarity(catalog, rejected_index):
    """How much each market is a near-duplicate of one the user rejected, in [0, 1].

    1 for the same title up to its numbers (another day or threshold of the same question) and
    for the rejected market itself; else the topic-set Jaccard where it is at least
    NEAR_DUPLICATE_OVERLAP (nearly the same category and tags); 0 otherwise.
    """
    n = len(catalog)
    if not len(rejected_index):
        return np.zeros(n)
    jaccard = topic_overlap(catalog, rejected_index).max(axis=1)
    overlap = np.where(jaccard >= NEAR_DUPLICATE_OVERLAP, jaccard, 0.0)
    groups = duplicate_groups(catalog)
    same_question = np.isin(groups, groups[rejected_index])
    return np.where(same_question, 1.0, overlap)


def demoted(key, similarity):
    """A pool's key lowered by rejection similarity s: a positive key scaled by (1 - s), then every key
    less s. So s = 1 puts a market below every market the user did not turn down, even when the
    others' keys are negative (a user who hid a Sports market may have a negative Sports taste)."""
    return np.where(key > 0, key * (1 - similarity), key) - similarity


def freshness(catalog, now, half_life_hours):
    age_hours = np.maximum(now - catalog.created_at, 0) / HOUR
    return 0.3 + 0.7 * np.exp2(-age_hours / half_life_hours)


def trending(catalog, country, share_local, min_users):
    """0.4 local + 0.6 global when the user's country has enough traffic on the market, else global."""
    global_ = catalog.trending_global
    local = catalog.trending_local.get(country) if country else None
    if local is None:
        return global_, np.zeros(len(catalog))
    supported = catalog.local_users_24h[country] >= min_users
    local = np.where(supported, local, 0.0)
    return np.where(supported, share_local * local + (1 - share_local) * global_, global_), local


def editorial(catalog, now, surface):
    """The value of the active boost of each market for this surface (the largest if several)."""
    values = np.zeros(len(catalog))
    b = catalog.boosts
    if len(b.index):
        active = (b.starts_at <= now) & (now < b.ends_at)
        active &= np.array([not s or surface in s for s in b.surfaces], dtype=bool)
        order = np.argsort(b.value[active])  # ascending, so the largest value is written last
        values[b.index[active][order]] = b.value[active][order]
    return values


def news_and_sports(catalog, now):
    with np.errstate(invalid="ignore"):
        news_age = now - catalog.news_at
        news = np.where((news_age >= 0) & (news_age <= DAY), NEWS_24H, 0.0)
        news = np.where((news == 0) & (news_age >= 0) & (news_age <= 7 * DAY), NEWS_7D, news)
        ahead = catalog.event_start_at - now
        sports = np.where((ahead >= DAY) & (ahead <= 3 * DAY), SPORTS_BOOST, 0.0)
    return news, sports


def user_state_features(catalog, user, now, params):
    """depth, followup, cooldown and frequency, scattered from the user's few seen markets."""
    n = len(catalog)
    depth_by_cat = np.zeros(len(catalog.categories))
    for name, mean_ms in user.dwell_mean_ms.items():
        if name in catalog.category_code:
            depth_by_cat[catalog.category_code[name]] = min(
                1.0, mean_ms / 1000 / params.features.depth_full_dwell_seconds
            )
    depth = depth_by_cat[catalog.category]
    followup, cooldown, frequency = np.zeros(n), np.zeros(n), np.zeros(n)
    idx = user.seen_index
    if len(idx):
        engaged = ~np.isnan(user.last_positive_at) & ~np.isnan(user.prob_at_last_shown)
        change = np.abs(catalog.probability[idx] - np.nan_to_num(user.prob_at_last_shown))
        followup[idx] = np.where(engaged, np.minimum(1.0, change / params.features.followup_full_change), 0.0)
        hours = (now - user.last_shown_at) / HOUR
        cooldown[idx] = np.where(
            np.isnan(hours), 0.0, np.exp2(-np.nan_to_num(hours) / params.caps.cooldown_half_life_hours)
        )
        frequency[idx] = np.minimum(1.0, user.shows_24h / 3.0)
    return depth, followup, cooldown, frequency


def history_features(catalog, user):
    """(engaged, shows_7d): 1 where the user engaged with the market before; its showings in 7 days / 5, at most 1."""
    n = len(catalog)
    engaged, shows = np.zeros(n), np.zeros(n)
    idx = user.seen_index
    if len(idx):
        engaged[idx] = (~np.isnan(user.last_positive_at)).astype(float)
        shows[idx] = np.minimum(1.0, user.shows_7d / 5.0)
    return engaged, shows


def score(catalog, user, params, now, surface="home"):
    """Every feature and the personal / final scores for every market."""
    k = params.interest.prior_mass
    (long_cat, long_tag), (neg_cat, neg_tag) = affinity_tables(user.long, catalog, k)
    (sess_cat, sess_tag), _ = affinity_tables(user.session, catalog, k)
    beta = session_beta(user.session, params.interest.beta_max, params.interest.beta_k)
    interest_long, interest_session = interest(catalog, long_cat, long_tag), interest(catalog, sess_cat, sess_tag)
    interest_ = (1 - beta) * interest_long + beta * interest_session
    negative = np.maximum(neg_cat[catalog.category], neg_tag[catalog.tags].max(axis=1, initial=0.0))
    depth, followup, cooldown, frequency = user_state_features(catalog, user, now, params)
    trending_, _ = trending(
        catalog, user.country, params.features.local_trending_share, params.features.local_min_users
    )
    news, sports = news_and_sports(catalog, now)
    hits_long, hits_session = hit_features(catalog, user, params.interest)
    f = {
        "interest": interest_,
        "similarity": similarity(catalog, user.recent),
        "depth": depth,
        "freshness": freshness(catalog, now, params.features.freshness_half_life_hours),
        "followup": followup,
        "negative": negative,
        "trending": trending_,
        "rising": catalog.rising,
        "editorial": editorial(catalog, now, surface),
        "news_boost": news,
        "sports_boost": sports,
        "cooldown": cooldown,
        "frequency": frequency,
        "hits_long": hits_long,
        "hits_session": hits_session,
        # For the learned ranker (the formula does not sum them): the interest's two horizons apart,
        # which the interest blends by beta, and how much the market trades against the rest of the catalog.
        "interest_long": interest_long,
        "interest_session": interest_session,
        "popularity": catalog.popularity,
    }
    f["engaged"], f["shows_7d"] = history_features(catalog, user)
    w = params.weights
    personal = (
        w.interest * f["interest"] + w.similarity * f["similarity"] + w.depth * f["depth"]
        + w.freshness * f["freshness"] + w.followup * f["followup"] - w.negative * f["negative"]
        + w.hits * f["hits_session"]  # the session estimate, which is the long-term one without showings this session
    )
    penalties = w.cooldown * f["cooldown"] + w.frequency * f["frequency"]
    final = (
        personal + w.trending * f["trending"] + w.rising * f["rising"] + w.editorial * f["editorial"]
        + w.news_boost * f["news_boost"] + w.sports_boost * f["sports_boost"] - penalties
    )
    return Scored(features=f, personal=personal, final=final, beta=beta, relevance=personal - penalties)


# How each component enters the formula's final score: (component, weight name, sign). hits_session is the
# personal score's hits term; hits_long is shown but not summed (the session estimate includes it).
TERMS = (
    ("interest", "interest", 1), ("similarity", "similarity", 1), ("depth", "depth", 1),
    ("freshness", "freshness", 1), ("followup", "followup", 1), ("negative", "negative", -1),
    ("hits_session", "hits", 1), ("trending", "trending", 1), ("rising", "rising", 1),
    ("editorial", "editorial", 1), ("news_boost", "news_boost", 1), ("sports_boost", "sports_boost", 1),
    ("cooldown", "cooldown", -1), ("frequency", "frequency", -1),
)


def contributions(components, params):
    """{component: signed weight x value}: what each component added to (or took from) one item's final
    formula score, from its logged components. They sum to the final score."""
    w = params.weights
    return {name: sign * getattr(w, weight) * components.get(name, 0.0) for name, weight, sign in TERMS}
