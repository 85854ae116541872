"""Ranking-quality metrics of a simulated run, as pure functions over plain records (no Django).

The runner logs what each feed served, what each user was shown (impressions), clicked and did;
these functions turn the log into the numbers of docs/simulation.md.
"""
import math
from collections import defaultdict
from dataclasses import dataclass, field

DAY = 86400.0
REPEAT_LIMIT = 3  # the frequency cap: at most 3 showings in 24 h unless the market changed
POOL_GROUPS = {
    "personal": "personal", "trending_local": "trending", "trending_global": "trending",
    "exploration": "exploration", "editorial": "editorial",
}
HEADLINE = (
    ("ctr", "CTR", "{:.2%}"),
    ("engaged_per_user_day", "engaged/user-day", "{:.3f}"),
    ("repeated_feed_share", "repeat feeds", "{:.2%}"),
    ("coverage", "coverage", "{:.1%}"),
    ("diversity_top9", "categories in top 9", "{:.2f}"),
    ("intent_next_feed", "intent in next feed", "{:.1%}"),
    ("intent_feeds_to_show", "feeds to intent", "{:.2f}"),
)


@dataclass(frozen=True)
class Showing:
    """One impression: market `market` rendered to `user` at `at`, with the odds and volume it had then."""

    user: int
    market: int
    at: float
    probability: float
    volume_24h: float
    feed: int
    pool: str
    clicked: bool = False


@dataclass
class RunLog:
    """Everything the metrics read, collected by the runner of one arm."""

    days: int
    users: int
    feeds: list = field(default_factory=list)  # (feed id, day, user, [category of each of the first 9 items])
    showings: list = field(default_factory=list)  # Showing
    engaged: list = field(default_factory=list)  # (day, count) per feed
    intents: list = field(default_factory=list)  # per intent session: (day, [hit of each feed after the signal])
    open_markets: list = field(default_factory=list)  # per day: how many markets were open at its start


def ctr(impressions, clicks):
    return clicks / impressions if impressions else 0.0


def _logit(p):
    p = min(0.99, max(0.01, p))
    return math.log(p / (1 - p))


def changed_enough(p_then, p_now, volume_then, volume_now, *, min_prob=0.10, min_logit=0.8, volume_ratio=2.0,
                   min_volume=1000.0):
    """"Changed enough to re-show": the odds moved, or the volume at least doubled."""
    if abs(p_now - p_then) >= min_prob - 1e-12 or abs(_logit(p_now) - _logit(p_then)) >= min_logit - 1e-12:
        return True
    return volume_now >= volume_ratio * volume_then and volume_now >= min_volume


def repeated_feeds(showings, limit=REPEAT_LIMIT):
    """Ids of the feeds that showed a user a market already shown `limit` or more times in the 24 h
    before, with no change enough to re-show since its last showing."""
    by_pair = defaultdict(list)
    for s in showings:
        by_pair[(s.user, s.market)].append(s)
    flagged = set()
    for seq in by_pair.values():
        seq.sort(key=lambda s: s.at)
        oldest = 0  # first showing inside the 24 h before the current one
        for i, s in enumerate(seq):
            while s.at - seq[oldest].at >= DAY:
                oldest += 1
            last = seq[i - 1]
            if i - oldest >= limit and not changed_enough(last.probability, s.probability, last.volume_24h,
                                                          s.volume_24h):
                flagged.add(s.feed)
    return flagged


def distinct_categories(categories):
    return len(set(categories))


def coverage(shown_markets, open_markets):
    return len(set(shown_markets)) / open_markets if open_markets else 0.0


def intent_speed(sessions):
    """sessions: per intent session, whether each feed after the intent first showed contained a market
    of the intent (in its first 10). Returns (share whose very next feed did, mean feeds until one did
    among those where one did, sessions counted)."""
    counted = [hits for hits in sessions if hits]
    if not counted:
        return 0.0, 0.0, 0
    next_feed = sum(1 for hits in counted if hits[0]) / len(counted)
    firsts = [hits.index(True) + 1 for hits in counted if True in hits]
    return next_feed, (sum(firsts) / len(firsts) if firsts else 0.0), len(counted)


def pool_group(pool):
    return POOL_GROUPS.get(pool, pool)


def summarize(log):
    """The headline metrics over the whole run, per simulated day, and the click-through per pool."""
    day_of_feed = {feed: day for feed, day, _, _ in log.feeds}
    repeated = repeated_feeds(log.showings)
    overall = _summary(log, range(log.days), day_of_feed, repeated)
    per_day = [_summary(log, [d], day_of_feed, repeated) for d in range(log.days)]
    pools = defaultdict(lambda: [0, 0])
    for s in log.showings:
        counts = pools[pool_group(s.pool)]
        counts[0] += 1
        counts[1] += s.clicked
    overall["pool_ctr"] = {p: {"impressions": n, "clicks": c, "ctr": ctr(n, c)} for p, (n, c) in sorted(pools.items())}
    return {"overall": overall, "per_day": per_day}


def _summary(log, days, day_of_feed, repeated):
    days = set(days)
    feeds = [f for f in log.feeds if f[1] in days]
    showings = [s for s in log.showings if day_of_feed[s.feed] in days]
    clicks = sum(s.clicked for s in showings)
    engaged = sum(n for d, n in log.engaged if d in days)
    user_days = log.users * len(days)
    open_markets = max((log.open_markets[d] for d in days), default=0)
    next_feed, to_show, intent_sessions = intent_speed([hits for d, hits in log.intents if d in days])
    return {
        "feeds": len(feeds),
        "impressions": len(showings),
        "clicks": clicks,
        "ctr": ctr(len(showings), clicks),
        "engaged_actions": engaged,
        "engaged_per_user_day": engaged / user_days if user_days else 0.0,
        "repeated_feeds": sum(1 for f in feeds if f[0] in repeated),
        "repeated_feed_share": sum(1 for f in feeds if f[0] in repeated) / len(feeds) if feeds else 0.0,
        "coverage": coverage((s.market for s in showings), open_markets),
        "diversity_top9": sum(distinct_categories(f[3]) for f in feeds) / len(feeds) if feeds else 0.0,
        "intent_sessions": intent_sessions,
        "intent_next_feed": next_feed,
        "intent_feeds_to_show": to_show,
    }
