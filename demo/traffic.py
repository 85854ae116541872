"""Demo feed traffic: the demo's users ask the real feed for their feeds over the last 24 h and react.

The made-up feeds of `demo.activity` leave profiles and history, but the ranking never served
them, so there is no served log (tracking.ServedItem) to learn from. Here each feed comes from
`personalization.services.feed_serve` on a simulated clock, the user reacts with the demo's
behaviour model (`demo.activity._react`), and the events go through `events_ingest` before that
user's next feed, so the next feed sees what they just did. Every 15 minutes the beat's services
run on the same clock, after the markets are set to their snapshot of that moment. The pattern is
the simulator's (simulation/runner.py). See docs/demo-data.md.
"""
import heapq
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from django.db import transaction

from demo.activity import (
    EVENT_NAMESPACE,
    SESSION_GAP,
    ActivityRejected,
    _ms,
    _react,
    _Session,
    _state,
    _states_set,
    _UserState,
)
from demo.catalog import snapshot_grid
from ingestion.services import IMPRESSION, INTERACTION, events_ingest
from personalization import selectors
from personalization.services import feed_serve, market_trending_refresh_configured
from tracking.models import ServedItem
from tracking.velocity import market_velocity_refresh

HOURS = 24
FEEDS_PER_USER = 11  # the default size: 440 feeds for the 40 users of the defaults
FEED_LIMIT = 20
BATCH = 500
BEAT_STEP = timedelta(minutes=30)  # trending every 30 min; odds and velocity every hour
HOURLY = 2
_TICK, _FEED = 0, 1  # at the same instant: the beat first


@dataclass(frozen=True)
class PlannedSession:
    user: object  # DemoUser
    index: int
    start: object  # datetime
    feed_request_ids: tuple


@dataclass
class TrafficResult:
    planned: int = 0
    feeds: int = 0  # with at least one item
    empty: int = 0
    served: int = 0
    impressions: int = 0
    interactions: int = 0
    clicks: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    batches: int = 0
    already_served: int = 0  # planned feeds found in the served log: the traffic was skipped


def traffic_plan(*, catalog, users, feeds, hours=HOURS):
    """Sessions of about `feeds` feeds in total over the `hours` before the anchor, shared by activity.

    Pure. A third of the sessions are in the last 6 h and two users in three have one in the last
    hour (what "trending now" reads). Feed request ids are uuid5 of (seed, user, session, feed).
    """
    anchor = catalog.anchor
    total = sum(u.activity for u in users)
    plan = []
    for user in users:
        r = random.Random(f"demo-traffic:{catalog.seed}:{user.user_key}")
        wanted = max(1, round(feeds * user.activity / total)) if total else 0
        counts = []
        while sum(counts) < wanted:
            counts.append(min(wanted - sum(counts), 1 + (r.random() < 0.5) + (r.random() < 0.2)))
        offsets = [r.randint(6, 360) if r.random() < 0.35 else r.randint(360, hours * 60 - 5) for _ in counts]
        if r.random() < 0.65:
            offsets[0] = r.randint(4, 55)
        for index, (offset, count) in enumerate(zip(sorted(offsets, reverse=True), counts, strict=True)):
            ids = tuple(str(uuid.uuid5(EVENT_NAMESPACE, f"{catalog.seed}|{user.user_key}|traffic|{index}|{k}"))
                        for k in range(count))
            plan.append(PlannedSession(user, index, anchor - timedelta(minutes=offset), ids))
    return plan


def _already_served(plan):
    ids = [i for s in plan for i in s.feed_request_ids]
    return sum(
        ServedItem.objects.filter(feed_request_id__in=ids[k : k + 500]).values("feed_request_id").distinct().count()
        for k in range(0, len(ids), 500)
    )


class _Traffic:
    def __init__(self, catalog, plan):
        self.catalog, self.anchor = catalog, catalog.anchor
        self.markets = {m.market_id: m for m in catalog.markets}
        self.current = {market_id: _state(m) for market_id, m in self.markets.items()}  # what the rows hold
        self.result = TrafficResult(planned=sum(len(s.feed_request_ids) for s in plan))
        self.sessions = {}  # user_key -> that user's planned sessions, in time order
        for s in sorted(plan, key=lambda s: s.start):
            self.sessions.setdefault(s.user.user_key, []).append(s)
        self.states = {key: _UserState() for key in self.sessions}
        self.pending, self.pending_users = [], set()
        self.queue, self.seq, self.ticks = [], 0, 0

    def _push(self, t, kind, payload):
        self.seq += 1
        heapq.heappush(self.queue, (t, kind, self.seq, payload))

    def run(self):
        start = min((s[0].start for s in self.sessions.values()), default=self.anchor)
        bounds = snapshot_grid(self.anchor)
        for bound in bounds[len(bounds) % 2 :: 2]:  # every other snapshot time, ending on the last one
            if bound >= start - BEAT_STEP:
                self._push(bound, _TICK, None)
        for sessions in self.sessions.values():
            self._push(sessions[0].start, _FEED, (sessions[0], 0, random.Random()))
        while self.queue:
            t, kind, _, payload = heapq.heappop(self.queue)
            if t > self.anchor:
                break
            if kind == _TICK:
                self._tick(t)
            else:
                self._feed(t, *payload)
        self._flush(self.anchor)
        _states_set(self.markets, self.current, {market_id: _state(m) for market_id, m in self.markets.items()})
        selectors.caches_reset()
        return self.result

    def _tick(self, t):
        """The beat at a snapshot time: events up to now sent, then (hourly) odds as of now and velocity, trending."""
        self._flush(t)
        if self.ticks % HOURLY == 0:
            _states_set(self.markets, self.current, {
                market_id: m.state_at(t) for market_id, m in self.markets.items() if m.snapshots
            })
            market_velocity_refresh(now=t)
        market_trending_refresh_configured(now=t)
        self.ticks += 1
        selectors.caches_reset()  # the rows moved under the in-memory catalog without a version bump

    def _feed(self, t, session, k, r):
        user = session.user
        if k == 0:
            r = random.Random(f"demo-traffic-session:{self.catalog.seed}:{user.user_key}:{session.index}")
        if user.user_key in self.pending_users:
            self._flush(t)
        feed_request_id = session.feed_request_ids[k]
        feed = feed_serve(user_key=user.user_key, surface="home", limit=FEED_LIMIT, country=user.country, now=t,
                          feed_request_id=feed_request_id)
        items = feed.ranking.items
        if not items:  # a small catalog can run out of what the caps let through: the user leaves
            self.result.empty += 1
            return self._next_session(session, t)
        self.result.feeds += 1
        self.result.served += len(items)
        rendered = items[: r.randint(8, FEED_LIMIT)]
        events = []
        s = _Session(f"{self.catalog.seed}:traffic", user, self.states[user.user_key], events)
        shown_at = []
        for n, item in enumerate(rendered):
            at = t + (_ms(0.05 * n) if n < 10 else _ms((n - 9) * r.uniform(1.5, 3.5)))
            shown_at.append(at)
            s.impression(at, self._market(feed.catalog, item.index), item.section, item.position, feed_request_id)
        clock = t + _ms(r.uniform(2, 6))
        for n, item in enumerate(rendered):
            clock = max(clock + _ms(r.uniform(0.8, 3.0)), shown_at[n] + _ms(0.3))
            clock = _react(r, s, user, self._market(feed.catalog, item.index), clock, item.section, item.position,
                           feed_request_id)
        self.pending.extend((e.at, user.user_key, e) for e in events)
        self.pending_users.add(user.user_key)
        end = clock + _ms(r.uniform(15, 90))
        if k + 1 < len(session.feed_request_ids):
            self._push(end, _FEED, (session, k + 1, r))
        else:
            self._next_session(session, end)

    def _next_session(self, session, end):
        later = self.sessions[session.user.user_key]
        if session.index + 1 < len(later):
            after = later[session.index + 1]
            self._push(max(after.start, end + SESSION_GAP), _FEED, (after, 0, None))

    def _market(self, ranking_catalog, index):
        """The demo's market for the user's reaction; one the demo did not generate gets a plain stand-in."""
        market_id = ranking_catalog.market_id[index]
        if market_id in self.markets:
            return self.markets[market_id]
        pad = len(ranking_catalog.tag_slugs)
        return SimpleNamespace(
            market_id=market_id, category=ranking_catalog.categories[ranking_catalog.category[index]],
            tags=tuple(ranking_catalog.tag_slugs[c] for c in ranking_catalog.tags[index] if c != pad),
            country="", surge_at=None, surge=0.0,
        )

    def _flush(self, t):
        """Send every event that happened up to `t`, interactions first (they open sessions)."""
        if not self.pending:
            return
        self.pending.sort(key=lambda x: x[0])
        cut = next((n for n, x in enumerate(self.pending) if x[0] > t), len(self.pending))
        due, self.pending = self.pending[:cut], self.pending[cut:]
        self.pending_users = {user_key for _, user_key, _ in self.pending}
        for kind in (INTERACTION, IMPRESSION):
            raw = [{**e.payload, "user_key": user_key} for _, user_key, e in due if e.kind == kind]
            for start in range(0, len(raw), BATCH):
                self._ingest(kind, raw[start : start + BATCH], t)
            if kind == IMPRESSION:
                self.result.impressions += len(raw)
            else:
                self.result.interactions += len(raw)
                self.result.clicks += sum(1 for e in raw if e["event_type"] == "click")

    def _ingest(self, kind, raw, received_at):
        outcome = events_ingest(kind=kind, raw_events=raw, user_key=None, acting_service=True,
                                defaults={"surface": "home"}, received_at=received_at)
        self.result.batches += 1
        self.result.accepted += outcome.count("accepted")
        self.result.duplicate += outcome.count("duplicate")
        rejected = [r for r in outcome.results if r["status"] == "rejected"]
        self.result.rejected += len(rejected)
        if rejected:
            raise ActivityRejected([f"{kind} {r['event_id']}: {r['field']} {r['reason']}" for r in rejected[:3]])


@transaction.atomic
def demo_feed_traffic(*, catalog, plan):
    """Serve the planned feeds and send the users' reactions through ingestion; one transaction.

    Skipped (nothing written) when any planned feed is already in the served log: a re-run
    of the same seed. A rejected event undoes the whole traffic (ActivityRejected).
    """
    already = _already_served(plan)
    if already:
        return TrafficResult(planned=sum(len(s.feed_request_ids) for s in plan), already_served=already)
    selectors.caches_reset()
    return _Traffic(catalog, plan).run()
