"""The short human reason for each served item."""
import numpy as np

COUNTRY_NAMES = {
    "US": "the US", "GB": "the UK", "IL": "Israel", "DE": "Germany", "FR": "France", "BR": "Brazil",
    "CA": "Canada", "AU": "Australia", "IN": "India", "JP": "Japan", "ES": "Spain", "IT": "Italy",
    "MX": "Mexico", "NL": "the Netherlands", "AR": "Argentina", "KR": "South Korea", "NG": "Nigeria",
}


def country_name(code):
    return COUNTRY_NAMES.get(code, code)


def top_topic(catalog, i, long_values, session_values):
    """(topic_type, key, label, from_session) of the market's topic the user likes most, or None."""
    best, best_score = None, 0.0
    category = catalog.categories[catalog.category[i]]
    topics = [("category", category, category)]
    pad = len(catalog.tag_slugs)
    topics += [("tag", catalog.tag_slugs[t], catalog.tag_labels[t]) for t in catalog.tags[i] if t != pad]
    for topic_type, key, label in topics:
        for values, is_session in ((long_values, False), (session_values, True)):
            score = values.get((topic_type, key), 0.0)
            if score > best_score:
                best, best_score = (topic_type, key, label, is_session), score
    return best


# What a reason may say the user did, strongest first: (event types, verb).
_DEEDS = (
    (("participate",), "traded on"),
    (("comment",), "commented on"),
    (("share",), "shared"),
    (("bookmark",), "saved"),
    (("participate_intent", "return_visit", "dwell_30+", "dwell_5+", "view_market", "click"), "viewed"),
)


def evidence(catalog, user, topic_type, key, since=None):
    """(verb, number of distinct markets) of the strongest thing the user did in this topic, or None.

    Counts the user's latest engagements (UserData.engaged_*) on open markets of the topic,
    since `since` (epoch seconds) when given.
    """
    idx = user.engaged_index
    if not len(idx):
        return None
    if topic_type == "category":
        in_topic = catalog.category[idx] == catalog.category_code.get(key, -1)
    else:
        in_topic = (catalog.tags[idx] == catalog.tag_code.get(key, -1)).any(axis=1)
    if since is not None:
        in_topic &= user.engaged_at >= since
    kinds = [(int(m), kind) for m, kind, hit in zip(idx, user.engaged_type, in_topic, strict=True) if hit]
    for types, verb in _DEEDS:
        markets = {m for m, kind in kinds if kind in types}
        if markets:
            return verb, len(markets)
    return None


def personal_reason(catalog, i, user):
    """What the system saw that makes this market the user's: "Because you saved 3 Crypto markets"."""
    topic = top_topic(catalog, i, user.long, user.session)
    if topic is None:
        return None
    topic_type, key, label, from_session = topic
    if from_session:
        seen = evidence(catalog, user, topic_type, key, since=user.session_started_at)
        if seen:
            return f"Because you {seen[0]} {label} markets this session"
    seen = evidence(catalog, user, topic_type, key)
    if seen:
        verb, count = seen
        return f"Because you {verb} a {label} market" if count == 1 else f"Because you {verb} {count} {label} markets"
    return f"Based on your past activity in {label}"  # an affinity from engagements older than the window


def reason_text(reason, catalog, i, user, features, change_text=None):
    if reason == "followup":
        return change_text or "Changed since you last saw this"
    if reason == "trending_local":
        return f"Trending in {country_name(user.country)}"
    if reason == "trending_global":
        return "Trending worldwide"
    if reason == "exploration":
        return f"Something new for you in {catalog.categories[catalog.category[i]]}"
    if reason == "editorial":
        return "Editor's pick"
    text = personal_reason(catalog, i, user)
    if text:
        return text
    if features["similarity"][i] > 0:
        return "Similar to markets you viewed"
    if np.isfinite(catalog.event_start_at[i]) and features["sports_boost"][i] > 0:
        return "Starting soon"
    return "Popular right now" if features["trending"][i] > 0 else "Picked for you"
