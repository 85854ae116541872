"""Demo activity: simulated users with a hidden taste browse the demo catalog for 48 h.

`activity_simulate` is pure (catalog and users in, time-ordered events out). `demo_activity_ingest`
replays those events through `ingestion.services.events_ingest`, the path of the real frontend,
so profiles, affinities, per-market state and activity buckets are what live traffic would
leave. See docs/demo-data.md.
"""
import bisect
import heapq
import math
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction

from demo.catalog import CATEGORIES, CATEGORY_TAGS, snapshot_grid
from feedproject.vocabulary import section_of
from ingestion.services import IMPRESSION, INTERACTION, events_ingest
from markets.services import market_states_rewind
from tracking.models import Impression, Interaction

EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://feed.invalid/demo-events")
BATCH = 500
SESSION_GAP = timedelta(minutes=31)  # a little over the 30 min that starts a new session
SURGE_WINDOW = timedelta(hours=6)

# Interleaved so that a handful of users already spans several countries; 8 of 20 are US or IL,
# enough users per country for "trending in <country>" to have its five distinct users.
COUNTRY_CYCLE = ("US", "IL", "GB", "DE", "BR", "US", "IL", "US", "GB", "DE",
                 "FR", "US", "IL", "BR", "US", "GB", "IN", "IL", "DE", "US")
LEANINGS = {  # country -> (categories, tags) its users lean towards
    "US": (("Sports", "Politics", "Business", "Crypto"), ("nba", "nfl", "us-elections", "congress", "fed", "stocks")),
    "IL": (("Politics", "World", "Sports", "Science & Tech"), ("israel", "middle-east", "israeli-premier-league",
                                                               "ai")),
    "GB": (("Sports", "Politics", "Business", "Culture"), ("premier-league", "uk", "inflation", "f1")),
    "DE": (("Sports", "Politics", "Business", "Science & Tech"), ("bundesliga", "germany", "eu", "ecb", "f1")),
    "BR": (("Sports", "Crypto", "Culture", "Politics"), ("brasileirao", "soccer", "brazil", "bitcoin")),
    "FR": (("Politics", "Sports", "Culture", "Weather"), ("france", "eu", "champions-league", "movies")),
    "IN": (("Sports", "Science & Tech", "Crypto", "Business"), ("cricket", "ai", "chips", "bitcoin")),
}


@dataclass(frozen=True)
class Behaviour:
    """How a user treats a market of one affinity class (probabilities per impression or per click)."""

    click: float
    participate: float  # given a click
    bookmark: float
    share: float
    comment: float
    dwell_s: float  # median dwell on the market page
    scroll_past: float  # given no click
    skip_fast: float
    hide: float
    not_interested: float


BEHAVIOUR = {
    "tag": Behaviour(0.26, 0.28, 0.14, 0.06, 0.04, 28, 0.04, 0.02, 0.0, 0.0),
    "category": Behaviour(0.15, 0.16, 0.07, 0.03, 0.02, 17, 0.08, 0.04, 0.0, 0.0),
    "other": Behaviour(0.04, 0.05, 0.02, 0.01, 0.005, 8, 0.20, 0.10, 0.004, 0.006),
    "disliked": Behaviour(0.01, 0.0, 0.0, 0.0, 0.0, 3, 0.25, 0.25, 0.05, 0.06),
}


@dataclass(frozen=True)
class DemoUser:
    user_key: str
    country: str
    favourite_categories: tuple
    favourite_tags: tuple
    disliked_category: str
    activity: float  # sessions multiplier


@dataclass(frozen=True)
class SimEvent:
    at: object  # datetime
    kind: str
    payload: dict


def demo_users(*, count, seed):
    """`count` users "demo:1".."demo:<count>", each with a hidden taste drawn from (seed, n)."""
    categories = tuple(CATEGORIES)
    users = []
    for n in range(1, count + 1):
        r = random.Random(f"demo-user:{seed}:{n}")
        country = COUNTRY_CYCLE[(n - 1) % len(COUNTRY_CYCLE)]
        lean_categories, lean_tags = LEANINGS[country]
        first = r.choice(lean_categories) if r.random() < 0.75 else r.choice(categories)
        second = r.choice([c for c in categories if c != first])
        pool = [t for c in (first, second) for t in CATEGORY_TAGS[c]]
        tags = []
        while len(tags) < 2:
            tag = r.choices(pool, weights=[4 if t in lean_tags else 1 for t in pool])[0]
            if tag not in tags:
                tags.append(tag)
        disliked = r.choice([c for c in categories if c not in (first, second)])
        users.append(DemoUser(f"demo:{n}", country, (first, second), tuple(tags), disliked, r.uniform(0.6, 1.5)))
    return users


# --- Simulation ------------------------------------------------------------------------------------

@dataclass
class _UserState:
    shown: dict = field(default_factory=lambda: defaultdict(list))  # market_id -> times shown
    hidden: set = field(default_factory=set)
    engaged: dict = field(default_factory=dict)  # market_id -> last positive action
    seq: int = 0


class _Session:
    """Builds one user's events; ids are uuid5 of their content, so a replay of the same seed is a no-op."""

    def __init__(self, seed, user, state, events):
        self.seed, self.user, self.state, self.events = seed, user, state, events

    def _id(self, *parts):
        self.state.seq += 1
        name = "|".join(map(str, (self.seed, self.user.user_key, self.state.seq, *parts)))
        return str(uuid.uuid5(EVENT_NAMESPACE, name))

    def impression(self, at, market, section, position, feed_id):
        self.events.append(SimEvent(at, IMPRESSION, {
            "event_id": self._id("impression", market.market_id, at.isoformat()),
            "market_id": market.market_id, "shown_at": at.isoformat(), "section": section, "position": position,
            "feed_request_id": feed_id,
        }))
        self.state.shown[market.market_id].append(at)

    def interaction(self, at, event_type, market, section="", position=None, feed_id=None, dwell_ms=None):
        payload = {
            "event_id": self._id(event_type, market.market_id, at.isoformat()),
            "event_type": event_type, "market_id": market.market_id, "occurred_at": at.isoformat(),
            "section": section, "position": position, "country": self.user.country,
        }
        if feed_id:
            payload["feed_request_id"] = feed_id
        if dwell_ms is not None:
            payload["dwell_ms"] = dwell_ms
        self.events.append(SimEvent(at, INTERACTION, payload))
        if event_type == "hide":
            self.state.hidden.add(market.market_id)
        if event_type in ("click", "view_market", "participate", "bookmark", "share", "comment", "return_visit"):
            self.state.engaged[market.market_id] = at


def _ms(seconds):
    return timedelta(milliseconds=round(seconds * 1000))


def _affinity_class(user, market):
    if market.category == user.disliked_category:
        return "disliked"
    if any(t in user.favourite_tags for t in market.tags):
        return "tag"
    if market.category in user.favourite_categories:
        return "category"
    return "other"


def _surge_now(market, at):
    if market.surge_at is None or not timedelta(0) <= at - market.surge_at <= SURGE_WINDOW:
        return 0.0
    return market.surge


def _eligible(market, at, state):
    """What the real feed could show at `at`: open, not hidden, not shown in 30 min nor 3 times in 24 h."""
    if market.created_at > at or (market.ended_at is not None and at >= market.ended_at):
        return False
    if market.market_id in state.hidden:
        return False
    shown = state.shown.get(market.market_id)
    if shown:
        if at - shown[-1] < timedelta(minutes=30):
            return False
        if sum(1 for s in shown if at - s < timedelta(hours=24)) >= 3:
            return False
    return True


def _weight(user, market, at, state, popularity):
    """Roughly what the ranker would favour: taste first, then local, surging, newsworthy and popular markets."""
    cls = _affinity_class(user, market)
    w = popularity[market.market_id] * {"tag": 6.0, "category": 3.0, "other": 1.0, "disliked": 0.35}[cls]
    if market.country and market.country == user.country:
        w *= 2.5
    w *= 1 + 4 * _surge_now(market, at)
    if market.news_at is not None and timedelta(0) <= at - market.news_at <= timedelta(hours=24):
        w *= 1.5
    engaged_at = state.engaged.get(market.market_id)
    if engaged_at and market.surge_at and engaged_at < market.surge_at <= at:
        w *= 3  # the feed brings back a market that moved since the user acted on it
    return w


def _session(r, seed, user, state, catalog, markets, popularity, start, events):
    s = _Session(seed, user, state, events)
    t = start
    engaged = [markets[m] for m in state.engaged if _eligible_to_revisit(markets[m], t, state)]
    if engaged and r.random() < 0.3:
        market = r.choice(engaged)
        s.interaction(t, "return_visit", market)
        dwell = r.lognormvariate(math.log(20), 0.6)
        s.interaction(t + _ms(1.5), "view_market", market, dwell_ms=round(dwell * 1000))
        t += _ms(dwell + r.uniform(2, 8))
    feeds = 1 + (r.random() < 0.5) + (r.random() < 0.2)
    for _ in range(feeds):
        feed_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{seed}|{user.user_key}|feed|{state.seq}|{t.isoformat()}"))
        size = r.randint(8, 20)
        candidates = [m for m in catalog.markets if _eligible(m, t, state)]
        keyed = ((r.random() ** (1.0 / _weight(user, m, t, state, popularity)), i, m) for i, m in enumerate(candidates))
        chosen = [m for _, _, m in heapq.nlargest(size, keyed)]
        shown_at = []
        for position, market in enumerate(chosen):
            at = t + (_ms(0.05 * position) if position < 10 else _ms((position - 9) * r.uniform(1.5, 3.5)))
            shown_at.append(at)
            s.impression(at, market, section_of(position), position, feed_id)
        clock = t + _ms(r.uniform(2, 6))
        for position, market in enumerate(chosen):
            clock = max(clock + _ms(r.uniform(0.8, 3.0)), shown_at[position] + _ms(0.3))
            clock = _react(r, s, user, market, clock, section_of(position), position, feed_id)
        t = clock + _ms(r.uniform(15, 90))
    return t


def _eligible_to_revisit(market, at, state):
    return (market.ended_at is None or at < market.ended_at) and market.market_id not in state.hidden


def _react(r, s, user, market, clock, section, position, feed_id):
    """What one user does with one shown market; returns the time when they move on."""
    b = BEHAVIOUR[_affinity_class(user, market)]
    surge = _surge_now(market, clock)
    click = b.click * (1 + 0.8 * surge) * (1.3 if section == "hero" else 0.8 if section == "stream" else 1.0)
    if market.country and market.country == user.country:
        click *= 1.3
    where = {"section": section, "position": position, "feed_id": feed_id}
    if r.random() < min(0.85, click):
        s.interaction(clock, "click", market, **where)
        dwell = min(600.0, r.lognormvariate(math.log(b.dwell_s), 0.6))
        s.interaction(clock + _ms(1.2), "view_market", market, dwell_ms=round(dwell * 1000), **where)
        at = clock + _ms(1.2 + r.uniform(0.3, 0.9) * dwell)
        if r.random() < min(0.9, b.participate * (1 + surge)):
            if r.random() < 0.35:
                s.interaction(max(at - _ms(4), clock + _ms(1.3)), "participate_intent", market, **where)
            s.interaction(at, "participate", market, **where)
            at += _ms(r.uniform(1, 4))
        for event_type, p in (("bookmark", b.bookmark), ("share", b.share), ("comment", b.comment)):
            if r.random() < p:
                s.interaction(at, event_type, market, **where)
                at += _ms(r.uniform(2, 20) if event_type == "comment" else r.uniform(0.5, 2))
        return clock + _ms(1.2 + dwell + r.uniform(1, 3))
    u = r.random()
    for event_type, p in (("hide", b.hide), ("not_interested", b.not_interested), ("skip_fast", b.skip_fast),
                          ("scroll_past", b.scroll_past)):
        if u < p:
            s.interaction(clock, event_type, market, **where)
            return clock + _ms(r.uniform(0.5, 2.0))
        u -= p
    return clock


def activity_simulate(*, catalog, users, hours=48, until=None):
    """{user_key: time-ordered SimEvents} of `users` browsing `catalog` during the `hours` before `until`
    (default: its anchor)."""
    anchor = until or catalog.anchor
    popularity = {m.market_id: 0.4 + math.log10(1 + m.volume_24h) / 3 for m in catalog.markets}
    markets = {m.market_id: m for m in catalog.markets}
    streams = {}
    for user in users:
        r = random.Random(f"demo-activity:{catalog.seed}:{user.user_key}")
        sessions = max(2, round(r.uniform(4, 9) * user.activity * hours / 48))
        offsets = [r.randint(6, 360) if r.random() < 0.35 else r.randint(360, hours * 60) for _ in range(sessions)]
        if r.random() < 0.65:  # many users are around in the last hour: that is what "trending now" reads
            offsets.append(r.randint(4, 55))
        state, events = _UserState(), []
        free_at = anchor - timedelta(hours=hours)
        for offset in sorted(offsets, reverse=True):
            start = max(anchor - timedelta(minutes=offset), free_at)
            if start > anchor - timedelta(minutes=3):
                break
            end = _session(r, catalog.seed, user, state, catalog, markets, popularity, start, events)
            free_at = end + SESSION_GAP
        streams[user.user_key] = sorted((e for e in events if e.at <= anchor), key=lambda e: e.at)
    return streams


# --- Replay through ingestion --------------------------------------------------------------------

class ActivityRejected(Exception):
    def __init__(self, reasons):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass
class ActivityResult:
    users: int = 0
    impressions: int = 0
    interactions: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    batches: int = 0
    windows_skipped: int = 0


@transaction.atomic
def demo_activity_ingest(*, catalog, streams):
    """Send every simulated event through `events_ingest`, in time order, 15 minutes at a time.

    Ingestion records the odds a user saw from the market's current state, so before each
    15-minute window the markets shown in it are set to their snapshot of that time, and
    restored at the end: "odds moved since you last saw this" then works on demo users too.
    One transaction: nobody else sees the rewound odds, and a rejected event undoes the run
    (ActivityRejected carries the reasons). A window whose events are all stored is skipped.
    """
    result = ActivityResult(users=len(streams))
    markets = {m.market_id: m for m in catalog.markets}
    bounds = snapshot_grid(catalog.anchor)
    windows = defaultdict(lambda: defaultdict(lambda: ([], [])))  # window -> user -> (impressions, interactions)
    for user_key, events in streams.items():
        for e in events:
            windows[bisect.bisect_right(bounds, e.at)][user_key][e.kind == INTERACTION].append(e)
            if e.kind == IMPRESSION:
                result.impressions += 1
            else:
                result.interactions += 1

    current = {market_id: _state(m) for market_id, m in markets.items()}  # what the rows hold now
    for window in sorted(windows):
        users = windows[window]
        if _all_stored(users):
            result.windows_skipped += 1
            result.duplicate += sum(len(a) + len(b) for a, b in users.values())
            continue
        state_time = bounds[max(0, window - 1)]
        shown = {e.payload["market_id"] for imps, _ in users.values() for e in imps}
        _states_set(markets, current, {m: markets[m].state_at(state_time) for m in shown})
        for user_key in sorted(users):
            for kind, events in zip((IMPRESSION, INTERACTION), users[user_key], strict=True):
                for start in range(0, len(events), BATCH):
                    _ingest(kind, user_key, events[start : start + BATCH], result)
    _states_set(markets, current, {market_id: _state(m) for market_id, m in markets.items()})
    return result


def _state(market):
    return market.probability, market.volume_24h, market.volume_total, market.participant_count


def _states_set(markets, current, wanted):
    """Set the trading state of some markets (a rewind of the replay, not a pushed state: market_states_rewind)."""
    changed = {market_id: state for market_id, state in wanted.items() if current[market_id] != state}
    market_states_rewind(states=changed)
    current.update(changed)


def _all_stored(users):
    impressions = [e.payload["event_id"] for imps, _ in users.values() for e in imps]
    interactions = [e.payload["event_id"] for _, ints in users.values() for e in ints]
    return (
        Impression.objects.filter(event_id__in=impressions).count() == len(impressions)
        and Interaction.objects.filter(event_id__in=interactions).count() == len(interactions)
    )


def _ingest(kind, user_key, events, result):
    outcome = events_ingest(
        kind=kind,
        raw_events=[e.payload for e in events],
        user_key=user_key,
        acting_service=True,
        defaults={"surface": "home"},
        # The simulated moment the batch is sent: a replay is live traffic with past timestamps.
        received_at=events[-1].at,
    ).as_dict()
    result.batches += 1
    result.accepted += outcome["accepted"]
    result.duplicate += outcome["duplicate"]
    result.rejected += outcome["rejected"]
    if outcome["rejected"]:
        reasons = [
            f"{user_key} {kind} {r['event_id']}: {r['field']} {r['reason']}"
            for r in outcome["results"] if r["status"] == "rejected"
        ]
        raise ActivityRejected(reasons[:3])
