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
    """(label, from_session) of the market's topic the user likes most, or None."""
    best, best_score, from_session = None, 0.0, False
    topics = [("category", catalog.categories[catalog.category[i]], catalog.categories[catalog.category[i]])]
    pad = len(catalog.tag_slugs)
    topics += [("tag", catalog.tag_slugs[t], catalog.tag_labels[t]) for t in catalog.tags[i] if t != pad]
    for topic_type, key, label in topics:
        for values, is_session in ((long_values, False), (session_values, True)):
            score = values.get((topic_type, key), 0.0)
            if score > best_score:
                best, best_score, from_session = label, score, is_session
    return (best, from_session) if best else None


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
    topic = top_topic(catalog, i, user.long, user.session)
    if topic:
        label, from_session = topic
        return f"Because you're exploring {label}" if from_session else f"Because you follow {label}"
    if features["similarity"][i] > 0:
        return "Similar to markets you viewed"
    if np.isfinite(catalog.event_start_at[i]) and features["sports_boost"][i] > 0:
        return "Starting soon"
    return "Popular right now" if features["trending"][i] > 0 else "Picked for you"
