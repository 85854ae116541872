"""Taste from hits and misses: per topic, how often the markets shown to the user were engaged with.

A shown market is a trial, a hit when the user engaged with it (a positive event), a miss
otherwise. Per topic (category or tag) and horizon the engagement rate is a Beta posterior
mean shrunk toward a prior mean:

    user rate  r   = (H + m_u μ0) / (N + m_u)          H, N: the user's hits and trials; μ0 global
    long       p_L = (h_L + m r) / (n_L + m)            h, n: the topic's (decayed) hits and trials
    session    p_S = (h_S + m p_L) / (n_S + m)          this session's showings, shrunk toward p_L

A market's feature in a horizon is the bounded log-lift tanh(ln(p / r)) of its topics (0: as the
user's usual rate; +0.6: twice it; -0.6: half of it), 0.5 category + 0.5 mean over its tags.
"""
import numpy as np


def user_rate(counts, global_rate, user_mass):
    """The user's own engagement rate over all trials, shrunk toward `global_rate`.

    `counts`: (topic_type, value) -> (hits, trials); each market has one category, so the
    category rows hold every trial once.
    """
    hits = trials = 0.0
    for (topic_type, _), (h, n) in counts.items():
        if topic_type == "category":
            hits, trials = hits + h, trials + n
    return (hits + user_mass * global_rate) / (trials + user_mass)


def rate_tables(counts, catalog, prior, prior_mass):
    """(category array, tag array) of posterior rates (h + m prior) / (n + m).

    `prior` is a number or a pair of arrays of the same shapes (a topic's own prior, the long
    rate for the session). Topics without trials keep their prior; the tag array has the
    padding slot at the end.
    """
    cat_prior, tag_prior = prior if isinstance(prior, tuple) else (
        np.full(len(catalog.categories), prior), np.full(len(catalog.tag_slugs) + 1, prior)
    )
    cat_h, cat_n = np.zeros_like(cat_prior), np.zeros_like(cat_prior)
    tag_h, tag_n = np.zeros_like(tag_prior), np.zeros_like(tag_prior)
    for (topic_type, value), (h, n) in counts.items():
        if topic_type == "category" and value in catalog.category_code:
            cat_h[catalog.category_code[value]], cat_n[catalog.category_code[value]] = h, n
        elif topic_type == "tag" and value in catalog.tag_code:
            tag_h[catalog.tag_code[value]], tag_n[catalog.tag_code[value]] = h, n
    return (
        (cat_h + prior_mass * cat_prior) / (cat_n + prior_mass),
        (tag_h + prior_mass * tag_prior) / (tag_n + prior_mass),
    )


def market_lifts(catalog, tables, base):
    """tanh(ln(rate / base)) of each market's topics: 0.5 category + 0.5 mean over its tags (untagged: the category).

    `tables`: (category rates, tag rates) per horizon; one sparse product over the catalog's
    topic matrix sums every horizon's tag and category lifts at once. Returns (n, horizons).
    """
    pad = len(catalog.tag_slugs)
    cat_lift = np.column_stack([np.tanh(np.log(cat / base)) for cat, _ in tables])
    tag_lift = np.column_stack([np.tanh(np.log(tag[:pad] / base)) for _, tag in tables])
    cat_part = cat_lift[catalog.category]
    tag_sum = catalog.topics @ np.vstack([tag_lift, cat_lift]) - cat_part  # the topic rows include the category
    counts = catalog.tag_count[:, None]
    return np.where(counts > 0, 0.5 * cat_part + 0.5 * tag_sum / np.maximum(counts, 1), cat_part)


def hit_features(catalog, user, interest_params):
    """(hits_long, hits_session) over the catalog, from the user's per-topic hits and trials."""
    if not user.hits_long and not user.hits_session:  # never shown anything: no evidence either way
        return np.zeros(len(catalog)), np.zeros(len(catalog))
    p = interest_params
    base = user_rate(user.hits_long, p.hits_global_rate, p.hits_user_mass)
    long_rates = rate_tables(user.hits_long, catalog, base, p.hits_prior_mass)
    session_rates = rate_tables(user.hits_session, catalog, long_rates, p.hits_prior_mass)
    lifts = market_lifts(catalog, (long_rates, session_rates), base)
    return lifts[:, 0], lifts[:, 1]
