"""The simulated world, pure Python + numpy: markets that move, users with hidden tastes, and how a
user treats a feed.

Nothing here knows how the feed is ranked: users react to what a market is (category, tags, odds,
volume, news), where it stands on the page and how often they have seen it; the system only ever
learns about them through the events they send. Every draw comes from a generator seeded by
(seed, what is drawn), so the same seed gives the same users, sessions and market moves in every arm.
"""
import bisect
import math
import random
from dataclasses import dataclass, field

import numpy as np

from feedproject.vocabulary import section_of

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
MOVE_STEP = 30 * MINUTE  # market moves land on the half hour: the beat ticks then (docs/simulation.md)
BUZZ_HALF_LIFE = 6 * HOUR
MAX_FEEDS_PER_SESSION = 5

# country -> (share of users, UTC offset in hours)
COUNTRIES = {
    "US": (0.36, -5), "GB": (0.10, 0), "IN": (0.10, 5.5), "IL": (0.08, 2), "DE": (0.08, 1),
    "BR": (0.08, -3), "FR": (0.07, 1), "CA": (0.07, -5), "AU": (0.06, 10),
}
# Relative chance that a session starts in each local hour: quiet nights, an evening peak.
LOCAL_HOUR_WEIGHTS = (0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.4, 0.8, 1.0, 1.0, 0.9, 0.9,
                      1.0, 1.0, 0.9, 0.9, 1.0, 1.1, 1.3, 1.5, 1.6, 1.5, 1.1, 0.6)
POSITIVE_EVENTS = ("click", "participate", "bookmark", "share", "comment")  # the engaged actions



@dataclass(frozen=True)
class UserModel:
    """How simulated users are drawn and behave: every behaviour constant of the world, in one place.

    `UserModel()` is the default model (the numbers of docs/simulation.md); USER_MODELS names the
    alternatives a run can pick (`simulate --user-model`). A click on an examined item has log-odds
    `click_logit` (below); an item at position k is examined with probability (1 + k) ** -position_decay.
    """

    name: str = "default"
    click_base: float = -3.6
    taste_weight: float = 3.0
    taste_power: float = 1.0  # the click curve: taste ** taste_power (above 1: fewer clicks on lukewarm markets)
    intent_weight: float = 2.5
    buzz_weight: float = 1.3
    popularity_weight: float = 0.5
    dislike_penalty: float = 2.5
    followup_bonus: float = 1.2  # a market the user clicked moved since: they want to know
    followup_move: float = 0.10  # ... by at least this much
    seen_penalty: float = 1.5  # clicked before and nothing moved: nothing new to read
    stale_24h_penalty: float = 0.8  # per unchanged showing in the last 24 h
    stale_7d_penalty: float = 0.25  # per unchanged showing earlier in the week
    stale_move: float = 0.05  # odds moved less than this since a showing: "the same thing again"
    position_decay: float = 0.45
    intent_rate: float = 0.45  # share of sessions with a passing intent
    favourite_counts: tuple = (1, 2, 2, 3)  # drawn uniformly: how many favourite categories a user has
    favourite_tastes: tuple = (1.0, 0.6, 0.35)  # taste of the first, second and third favourite
    other_taste: float = 0.05  # taste of every other category
    disliked_rate: float = 0.5  # share of users with a disliked category


DEFAULT_USER_MODEL = UserModel()
USER_MODELS = {
    "default": DEFAULT_USER_MODEL,
    # Narrower tastes, a stronger position bias, fewer intent sessions, a steeper taste response.
    "alt": UserModel(name="alt", click_base=-3.5, taste_weight=4.0, taste_power=2.0, intent_weight=2.0,
                     position_decay=0.8, intent_rate=0.3, favourite_counts=(1, 1, 2), favourite_tastes=(1.0, 0.5),
                     other_taste=0.03, disliked_rate=0.7),
}


def click_logit(model, *, bias, taste, popularity, buzz, intent, followup, seen, stale_24, stale_7, disliked, hidden):
    """Log-odds that a user clicks an item they looked at, for one market or element-wise over arrays.

    `intent`, `followup` (clicked before, odds moved since), `seen` (clicked before, nothing moved),
    `disliked` and `hidden` are 0/1; `stale_24` / `stale_7` count unchanged showings. A hidden
    market is never clicked (-10). The one definition of the world's click chance: `World.feed_react`
    draws clicks from it and the oracle arm ranks by it.
    """
    z = model.click_base + bias + model.taste_weight * taste ** model.taste_power + model.popularity_weight * popularity
    z = z + model.buzz_weight * buzz
    z = z + model.intent_weight * intent
    z = z + model.followup_bonus * followup - model.seen_penalty * seen
    z = z - (model.stale_24h_penalty * stale_24 + model.stale_7d_penalty * stale_7)
    z = z - model.dislike_penalty * disliked
    return np.where(hidden, -10.0, z)


def popularity_of(volume_24h):
    """How much a market's 24 h volume draws clicks: -0.5 .. 0.5, 0 at 10,000 (scalar or array)."""
    return np.clip(np.log10(np.maximum(volume_24h, 1.0) / 10_000.0) * 0.5, -0.5, 0.5)


def staleness(past, at, p_now, stale_move):
    """(unchanged showings in the 24 h before `at`, unchanged showings earlier in the week) of
    `past` = [(at, probability)]: shown when the odds were within `stale_move` of `p_now`."""
    stale_24 = sum(1 for s_at, s_p in past if at - s_at < DAY and abs(p_now - s_p) < stale_move)
    stale_7 = sum(1 for s_at, s_p in past if DAY <= at - s_at < 7 * DAY and abs(p_now - s_p) < stale_move)
    return stale_24, stale_7


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def logit(p):
    p = min(0.99, max(0.01, p))
    return math.log(p / (1.0 - p))


@dataclass(frozen=True)
class SimMarket:
    """One market as the world knows it; times are seconds since the epoch."""

    market_id: str
    title: str
    category: str
    tags: tuple  # ((slug, label), ...)
    probability: float
    volume_24h: float
    volume_total: float
    created_at: float
    resolution_at: float | None = None
    event_start_at: float | None = None
    image_url: str = ""
    country: str = ""


@dataclass(frozen=True)
class MarketMove:
    """A state change pushed by the trading backend at `at`."""

    at: float
    market: int
    probability: float
    volume_24h: float
    volume_total: float
    status: str  # open | resolved
    buzz: float  # 0-1: how much attention the move draws (news, a sharp swing)


@dataclass(frozen=True)
class SimUser:
    key: str
    country: str
    utc_offset: float
    category_taste: dict  # category -> 0..1
    tag_taste: dict  # tag slug -> 0..1
    disliked: str  # a category the user does not want, or ""
    sessions_per_day: float
    patience: float  # mean number of items scrolled past the first screen
    bias: float  # the user's own click propensity (log-odds)


@dataclass(frozen=True)
class SessionPlan:
    """What is decided before the session meets any feed: when, and the passing intent, if any."""

    user: int
    index: int
    start: float
    intent: str = ""  # a tag the user came for in this session
    landing: int = -1  # the market they land on first (from a link or a search), or -1


@dataclass
class UserMemory:
    """What a user remembers of the feed: showings, clicks, hides."""

    shows: dict = field(default_factory=dict)  # market -> [(at, probability)]
    clicked: dict = field(default_factory=dict)  # market -> probability when last clicked
    hidden: set = field(default_factory=set)


@dataclass
class SimEvent:
    at: float
    kind: str  # "impression" | "interaction"
    market: int
    event_type: str = ""
    position: int | None = None
    section: str = ""
    dwell_ms: int | None = None
    feed: int = -1  # index of the feed it came from, -1 for none


@dataclass
class FeedReaction:
    events: list
    shown: list  # [(market, position, at)] of the rendered items
    clicked: set  # markets clicked
    engaged: int  # engaged actions (POSITIVE_EVENTS)
    end: float
    again: bool  # asks for another feed in this session


class World:
    """Markets, their moves over the horizon, users and their sessions, all drawn from `seed`."""

    def __init__(self, *, markets, users, days, seed, start, user_model=DEFAULT_USER_MODEL):
        self.seed, self.start, self.days = seed, start, days
        self.model = user_model
        self.end = start + days * DAY
        self.markets = list(markets)
        self.n = len(self.markets)
        self.index = {m.market_id: i for i, m in enumerate(self.markets)}
        self.categories = sorted({m.category for m in self.markets})
        self.category_code = np.array([self.categories.index(m.category) for m in self.markets])
        self.tag_sets = [frozenset(slug for slug, _ in m.tags) for m in self.markets]
        self.moves = self._moves()
        self._timeline()
        self.users = self._users(users)
        self.sessions = self._sessions()
        self._tastes = {}

    # --- markets ------------------------------------------------------------------------------
    def _moves(self):
        """News jumps (odds and a volume spike), the spike's fading a day later, and resolutions."""
        moves = []
        for i, m in enumerate(self.markets):
            r = random.Random(f"sim-market:{self.seed}:{m.market_id}")
            rate = 0.35 * r.lognormvariate(0, 0.7)  # jumps a day
            x, base, total = logit(m.probability), m.volume_24h, m.volume_total
            times = sorted(self._on_step(self.start + r.uniform(0, self.days * DAY))
                           for _ in range(_poisson(r, rate * self.days)))
            ends = m.resolution_at if m.resolution_at and m.resolution_at < self.end else None
            last_spike_end = None
            for at in times:
                if ends is not None and at >= ends:
                    break
                if last_spike_end is not None and at >= last_spike_end:
                    moves.append(MarketMove(last_spike_end, i, round(sigmoid(x), 4), round(base, 2),
                                            round(total, 2), "open", 0.0))
                dx = r.gauss(0, 0.9)
                x = max(-4.5, min(4.5, x + dx))
                spike = r.uniform(2.5, 8.0)
                total += base * (spike - 1) * 0.25
                moves.append(MarketMove(at, i, round(sigmoid(x), 4), round(base * spike, 2), round(total, 2),
                                        "open", min(1.0, abs(dx) / 1.2) * (0.5 + 0.5 * min(1.0, spike / 6))))
                last_spike_end = at + DAY
            if last_spike_end is not None and last_spike_end < (ends or self.end):
                moves.append(MarketMove(last_spike_end, i, round(sigmoid(x), 4), round(base, 2), round(total, 2),
                                        "open", 0.0))
            if ends is not None:
                outcome = 1.0 if r.random() < sigmoid(x) else 0.0
                moves.append(MarketMove(self._on_step(ends), i, outcome, 0.0, round(total, 2), "resolved", 0.0))
        moves.sort(key=lambda mv: (mv.at, mv.market))
        return moves

    def _on_step(self, t):
        """The next half hour at or after t (relative to the start, which is on the hour)."""
        return self.start + math.ceil((t - self.start) / MOVE_STEP) * MOVE_STEP

    def _timeline(self):
        """Per market: the times of its moves and its state after each, for lookups at any time."""
        self._times = [[] for _ in range(self.n)]
        self._states = [[(m.probability, m.volume_24h, "open", 0.0)] for m in self.markets]
        for mv in self.moves:
            self._times[mv.market].append(mv.at)
            self._states[mv.market].append((mv.probability, mv.volume_24h, mv.status, mv.buzz))

    def state_at(self, market, t):
        """(probability, volume_24h, status) of a market at time t (moves at t included)."""
        k = bisect.bisect_right(self._times[market], t)
        p, v, status, _ = self._states[market][k]
        return p, v, status

    def buzz_at(self, market, t):
        """Attention from the market's last news jump, fading with a 6 h half-life."""
        value, at = self._last_jump(market, t)
        return value * 2.0 ** (-(t - at) / BUZZ_HALF_LIFE) if value else 0.0

    def _last_jump(self, market, t):
        """(buzz, time) of the market's last news jump at or before t, or (0.0, 0.0)."""
        times = self._times[market]
        k = bisect.bisect_right(times, t)
        states = self._states[market]
        while k > 0 and states[k][3] == 0.0:
            k -= 1
        return (states[k][3], times[k - 1]) if k > 0 else (0.0, 0.0)

    def is_open(self, market, t):
        m = self.markets[market]
        return m.created_at <= t and self.state_at(market, t)[2] == "open"

    # --- users ----------------------------------------------------------------------------------
    def _users(self, count):
        r = random.Random(f"sim-users:{self.seed}")
        countries = list(COUNTRIES)
        shares = [COUNTRIES[c][0] for c in countries]
        category_share = {c: 0 for c in self.categories}
        tag_count, tag_category = {}, {}
        for m in self.markets:
            category_share[m.category] += 1
            for slug, _ in m.tags:
                tag_count[slug] = tag_count.get(slug, 0) + 1
                tag_category.setdefault(slug, {}).setdefault(m.category, 0)
                tag_category[slug][m.category] += 1
        tags = sorted(t for t, c in tag_count.items() if c >= 3) or sorted(tag_count)
        main_category = {t: max(tag_category[t], key=tag_category[t].get) for t in tags}
        users = []
        for n in range(count):
            country = r.choices(countries, shares)[0]
            k = r.choice(self.model.favourite_counts)
            favourites = []
            while len(favourites) < min(k, len(self.categories)):
                c = r.choices(self.categories, [category_share[c] ** 0.5 for c in self.categories])[0]
                if c not in favourites:
                    favourites.append(c)
            taste = {c: self.model.other_taste for c in self.categories}
            for c, value in zip(favourites, self.model.favourite_tastes, strict=False):
                taste[c] = value
            others = [c for c in self.categories if c not in favourites]
            disliked = r.choice(others) if others and r.random() < self.model.disliked_rate else ""
            if disliked:
                taste[disliked] = 0.0
            own = [t for t in tags if main_category[t] in favourites]
            tag_taste = {}
            for _ in range(r.randint(3, 6)):
                pool = own if own and r.random() < 0.75 else tags
                if pool:
                    tag = r.choices(pool, [tag_count[t] ** 0.7 for t in pool])[0]
                    tag_taste[tag] = round(r.uniform(0.6, 1.0), 3)
            sigma = 0.7
            users.append(SimUser(
                key=f"sim:{n + 1}", country=country, utc_offset=COUNTRIES[country][1], category_taste=taste,
                tag_taste=tag_taste, disliked=disliked,
                sessions_per_day=r.lognormvariate(math.log(1.0) - sigma**2 / 2, sigma),
                patience=r.uniform(3, 12), bias=r.gauss(0, 0.3),
            ))
        self._tag_weights = (tags, [tag_count[t] ** 0.7 for t in tags])
        return users

    def taste(self, user_index):
        """The user's hidden taste for every market (0..1), computed once per user."""
        cached = self._tastes.get(user_index)
        if cached is None:
            u = self.users[user_index]
            other = self.model.other_taste
            cats = np.array([u.category_taste.get(c, other) for c in self.categories])[self.category_code]
            tags = np.array([max((u.tag_taste.get(t, 0.0) for t in s), default=0.0) for s in self.tag_sets])
            local = np.array([0.3 if m.country and m.country == u.country else 0.0 for m in self.markets])
            cached = self._tastes[user_index] = np.minimum(1.0, 0.55 * cats + 0.45 * tags + local)
        return cached

    # --- sessions -------------------------------------------------------------------------------
    def _sessions(self):
        """Every session start of every user over the horizon, with its intent: the same in every arm."""
        plans = []
        for ui, u in enumerate(self.users):
            r = random.Random(f"sim-sessions:{self.seed}:{u.key}")
            starts = []
            for day in range(self.days):
                for _ in range(_poisson(r, u.sessions_per_day)):
                    hour = r.choices(range(24), LOCAL_HOUR_WEIGHTS)[0]
                    t = self.start + day * DAY + (hour - u.utc_offset) * HOUR + r.uniform(0, HOUR)
                    if self.start <= t < self.end - HOUR:
                        starts.append(t)
            kept = []
            for t in sorted(starts):
                if not kept or t - kept[-1] >= 45 * MINUTE:  # a new session, not the same one
                    kept.append(t)
            for k, t in enumerate(kept):
                plans.append(self._plan(ui, k, t))
        plans.sort(key=lambda p: (p.start, p.user))
        return plans

    def _plan(self, user, index, start):
        r = random.Random(f"sim-intent:{self.seed}:{user}:{index}")
        if r.random() >= self.model.intent_rate:
            return SessionPlan(user, index, start)
        buzzing = [i for i in self._news_around(start) if self.is_open(i, start) and self.markets[i].tags]
        if buzzing and r.random() < 0.6:
            landing = r.choice(buzzing)
            intent = r.choice(sorted(self.tag_sets[landing]))
        else:
            tags, weights = self._tag_weights
            intent = r.choices(tags, weights)[0] if tags else ""
            candidates = [i for i in range(self.n) if intent in self.tag_sets[i] and self.is_open(i, start)]
            landing = r.choice(candidates) if candidates else -1
        if landing >= 0 and r.random() >= 0.6:
            landing = -1  # the intent shows only through what they click in the feed
        return SessionPlan(user, index, start, intent, landing)

    def _news_around(self, t):
        """Markets with a news jump in the 6 hours before t."""
        lo = bisect.bisect_left(self._move_times, t - BUZZ_HALF_LIFE)
        hi = bisect.bisect_right(self._move_times, t)
        return sorted({mv.market for mv in self.moves[lo:hi] if mv.buzz > 0.2})

    @property
    def _move_times(self):
        if not hasattr(self, "_move_times_cache"):
            self._move_times_cache = [mv.at for mv in self.moves]
        return self._move_times_cache

    def popularity(self, market, t):
        _, volume, _ = self.state_at(market, t)
        return popularity_of(volume)

    # --- behaviour ----------------------------------------------------------------------------
    def landing_events(self, plan, rng):
        """The session starts on a market page (a link, a search): a view with its dwell."""
        dwell = min(300.0, rng.lognormvariate(math.log(35), 0.5))
        event = SimEvent(plan.start, "interaction", plan.landing, "view_market", dwell_ms=round(dwell * 1000))
        return [event], plan.start + dwell + rng.uniform(2, 10)

    def click_logit(self, *, user_index, plan, market, at, memory, stale):
        """Log-odds of a click on `market`, looked at `at` by the user with `memory`, in session `plan`;
        `stale` = its unchanged showings (24 h, week) before this one."""
        u = self.users[user_index]
        p_now, _, _ = self.state_at(market, at)
        clicked = memory.clicked.get(market)
        moved = clicked is not None and abs(p_now - clicked) >= self.model.followup_move
        return float(click_logit(
            self.model, bias=u.bias, taste=self.taste(user_index)[market], popularity=self.popularity(market, at),
            buzz=self.buzz_at(market, at), intent=bool(plan.intent and plan.intent in self.tag_sets[market]),
            followup=moved, seen=clicked is not None and not moved, stale_24=stale[0], stale_7=stale[1],
            disliked=self.markets[market].category == u.disliked, hidden=market in memory.hidden,
        ))

    def click_logits(self, *, user_index, plan, at, memory):
        """`click_logit` of every market of the world, were it looked at `at` next (the oracle's view;
        nothing is recorded): an array indexed like `markets`."""
        u = self.users[user_index]
        probability, volume, buzz_value, buzz_time = self._market_arrays(at)
        followup, seen = np.zeros(self.n), np.zeros(self.n)
        for m, p_clicked in memory.clicked.items():
            moved = abs(probability[m] - p_clicked) >= self.model.followup_move
            followup[m], seen[m] = moved, not moved
        stale_24, stale_7 = np.zeros(self.n), np.zeros(self.n)
        for m, past in memory.shows.items():
            stale_24[m], stale_7[m] = staleness(past, at, probability[m], self.model.stale_move)
        hidden = np.zeros(self.n, dtype=bool)
        hidden[list(memory.hidden)] = True
        disliked = (np.array([m.category == u.disliked for m in self.markets]) if u.disliked
                    else np.zeros(self.n, dtype=bool))
        intent = self._tag_mask(plan.intent) if plan is not None and plan.intent else np.zeros(self.n, dtype=bool)
        buzz = buzz_value * 2.0 ** (-(at - buzz_time) / BUZZ_HALF_LIFE)
        return click_logit(self.model, bias=u.bias, taste=self.taste(user_index), popularity=popularity_of(volume),
                           buzz=buzz, intent=intent, followup=followup, seen=seen, stale_24=stale_24,
                           stale_7=stale_7, disliked=disliked, hidden=hidden)

    def _market_arrays(self, t):
        """(probability, volume_24h, buzz of the last news jump, its time) of every market at `t`,
        computed once per market move (they change only then)."""
        k = bisect.bisect_right(self._move_times, t)
        cached = getattr(self, "_arrays_cache", None)
        if cached is None or cached[0] != k:
            probability, volume = np.empty(self.n), np.empty(self.n)
            buzz_value, buzz_time = np.empty(self.n), np.empty(self.n)
            for m in range(self.n):
                probability[m], volume[m], _ = self.state_at(m, t)
                buzz_value[m], buzz_time[m] = self._last_jump(m, t)
            cached = self._arrays_cache = (k, (probability, volume, buzz_value, buzz_time))
        return cached[1]

    def _tag_mask(self, tag):
        masks = self.__dict__.setdefault("_tag_masks", {})
        if tag not in masks:
            masks[tag] = np.array([tag in s for s in self.tag_sets], dtype=bool)
        return masks[tag]

    def feed_react(self, *, user_index, plan, items, t, feed, memory, rng):
        """What the user does with a feed served at `t`: `items` are market indices in feed order."""
        u, model = self.users[user_index], self.model
        taste = self.taste(user_index)
        depth = min(len(items), 4 + int(rng.expovariate(1.0 / u.patience)))
        events, shown, clicked, engaged = [], [], set(), 0
        clock = t
        stale_rendered = 0
        for position, m in enumerate(items[:depth]):
            section = section_of(position)
            at = t + 0.2 + 0.05 * position if position < 10 else clock + 0.5
            clock = max(clock, at) + 1.2
            p_now, _, _ = self.state_at(m, at)
            shown.append((m, position, at))
            past = memory.shows.setdefault(m, [])
            stale_24, stale_7 = staleness(past, at, p_now, model.stale_move)
            past.append((at, p_now))
            stale_rendered += stale_24 > 0
            where = dict(position=position, section=section, feed=feed)
            if rng.random() >= (1.0 + position) ** -model.position_decay:
                continue  # rendered, not looked at
            disliked = self.markets[m].category == u.disliked
            z = self.click_logit(user_index=user_index, plan=plan, market=m, at=at, memory=memory,
                                 stale=(stale_24, stale_7))
            if rng.random() < sigmoid(z):
                clicked.add(m)
                memory.clicked[m] = p_now
                dwell = min(600.0, rng.lognormvariate(math.log(6 + 30 * taste[m]), 0.6))
                events.append(SimEvent(clock, "interaction", m, "click", **where))
                events.append(SimEvent(clock + 1, "interaction", m, "view_market", dwell_ms=round(dwell * 1000),
                                       **where))
                engaged += 1
                after = clock + 1 + dwell * 0.7
                follow = (("participate", 0.08 + 0.30 * taste[m] + 0.10 * self.buzz_at(m, at)),
                          ("bookmark", 0.03 + 0.08 * taste[m]), ("share", 0.02 + 0.03 * taste[m]),
                          ("comment", 0.01 + 0.03 * taste[m]))
                for event_type, chance in follow:
                    if rng.random() < chance:
                        events.append(SimEvent(after, "interaction", m, event_type, **where))
                        engaged += 1
                        after += rng.uniform(1, 5)
                clock = clock + 2 + dwell
                continue
            if disliked or m in memory.hidden:
                roll = rng.random()
                if roll < 0.05:
                    events.append(SimEvent(clock, "interaction", m, "hide", **where))
                    memory.hidden.add(m)
                elif roll < 0.08:
                    events.append(SimEvent(clock, "interaction", m, "not_interested", **where))
                elif roll < 0.25:
                    events.append(SimEvent(clock, "interaction", m, "skip_fast", **where))
            elif stale_24 >= 2 and rng.random() < 0.05:
                events.append(SimEvent(clock, "interaction", m, "not_interested", **where))
        again = rng.random() < 0.25 + 0.2 * min(len(clicked), 2) - (0.15 if stale_rendered >= 2 else 0.0)
        return FeedReaction(events, shown, clicked, engaged, clock + rng.uniform(3, 20), again)


def _poisson(r, lam):
    """A Poisson draw from a `random.Random` (Knuth; lam is small here)."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1
