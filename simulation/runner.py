"""One arm of a simulation: the world's users meet one feed strategy on a simulated clock.

For an arm that drives the system, everything goes through the services the site uses: feeds from
`feed_build`, events through `events_ingest` (stamped with the simulated time), market moves through
`market_states_update`, and the beat's services called with the simulated `now`: in this process, or
over the API with `as_of` (the transport: simulation/transport.py, simulation/http_replay.py).
Events are sent in batches: all that happened up to a moment, whenever a user who has unsent events
asks for a feed and at every beat tick, so the next feed always sees what the user just did.
"""
import heapq
import pickle
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from feedproject.vocabulary import section_of
from ingestion.services import IMPRESSION, INTERACTION
from personalization import selectors
from simulation.metrics import RunLog, Showing
from simulation.transport import InProcess
from simulation.world import DAY, MAX_FEEDS_PER_SESSION, MOVE_STEP, UserMemory

BATCH = 500
FEED_LIMIT = 20
_TICK, _SESSION, _FEED = 0, 1, 2  # at the same instant: the beat first, then new sessions, then feeds


@dataclass(frozen=True)
class BeatSchedule:
    """Minutes between runs of each beat task on the simulated clock (docs/simulation.md: why not the live schedule)."""

    trending: int = 30
    velocity: int = 180
    snapshots: int = 360
    session_expiry: int = 30
    affinity_decay: int = 180
    retention: int = 1440
    ranking_model: int = 1440  # the nightly training, for an arm whose config ranks with the learned model

    def due(self, elapsed_seconds):
        minutes = round(elapsed_seconds / 60)
        return {name for name, every in self.__dict__.items() if minutes % every == 0}


class MarketState:
    """The catalog's trading state as the arm has applied it so far (what baselines read)."""

    def __init__(self, world):
        self.probability = np.array([m.probability for m in world.markets])
        self.volume_24h = np.array([m.volume_24h for m in world.markets])
        self.open = np.array([m.created_at <= world.start for m in world.markets], dtype=bool)
        self.version = 0


def _dt(ts):
    return datetime.fromtimestamp(ts, tz=UTC)


class _Session:
    __slots__ = ("plan", "rng", "feeds", "signal", "hits")

    def __init__(self, plan, rng):
        self.plan, self.rng, self.feeds, self.signal, self.hits = plan, rng, 0, False, []


class ArmRunner:
    def __init__(self, world, strategy, *, beat=BeatSchedule(), limit=FEED_LIMIT, progress=None, transport=None):
        self.world, self.strategy, self.beat, self.limit = world, strategy, beat, limit
        self.transport = transport or InProcess()
        self.drives = strategy.drives_system
        self.progress = progress
        self.state = MarketState(world)
        self.memories = [UserMemory() for _ in world.users]
        self.log = RunLog(days=world.days, users=len(world.users))
        self.ids = random.Random(f"sim-ids:{world.seed}:{strategy.name}")
        self.pending = []  # (at, user index, SimEvent or _Impression) not yet sent
        self.move_at = 0  # next market move to apply
        self.pending_users = set()
        self.feed_request_ids = {}
        self.seq = 0
        self.timings = {"feeds": 0.0, "ingest": 0.0, "moves": 0.0, "beat": 0.0}
        self.counts = {"feeds": 0, "events": 0, "moves": 0, "ingest_calls": 0, "rejected": 0}

    # --- the clock ------------------------------------------------------------------------------
    def run(self):
        w = self.world
        queue = []
        ticks = int(w.days * DAY / MOVE_STEP)
        for k in range(ticks + 1):
            self._push(queue, w.start + k * MOVE_STEP, _TICK, None)
        for plan in w.sessions:
            self._push(queue, plan.start, _SESSION, plan)
        started = time.monotonic()
        while queue:
            t, kind, _, payload = heapq.heappop(queue)
            if t > w.end:
                break
            if kind == _TICK:
                self._tick(t)
                if self.progress and (t - w.start) % DAY == 0 and t > w.start:
                    spent = " ".join(f"{k} {v:.0f}s" for k, v in self.timings.items())
                    self.progress(f"  {self.strategy.name}: day {int((t - w.start) // DAY)} done "
                                  f"in {time.monotonic() - started:.0f}s ({spent})")
            elif kind == _SESSION:
                self._session_start(queue, t, payload)
            else:
                self._feed(queue, t, payload)
        if self.drives:
            self._flush(w.end)
        return self.log

    def _push(self, queue, t, kind, payload):
        self.seq += 1
        heapq.heappush(queue, (t, kind, self.seq, payload))

    def _day(self, t):
        return min(self.world.days - 1, int((t - self.world.start) // DAY))

    # --- beat: market moves and periodic tasks ---------------------------------------------------
    def _tick(self, t):
        w = self.world
        if self.drives:
            self._flush(t)
        started = time.monotonic()
        moved = []
        while self.move_at < len(w.moves) and w.moves[self.move_at].at <= t:
            moved.append(w.moves[self.move_at])
            self.move_at += 1
        for mv in moved:
            self.state.probability[mv.market] = mv.probability
            self.state.volume_24h[mv.market] = mv.volume_24h
            self.state.open[mv.market] = mv.status == "open"
            if self.drives:
                self.transport.market_update(
                    market_id=w.markets[mv.market].market_id, at=_dt(t),
                    changes={"probability": mv.probability, "volume_24h": mv.volume_24h,
                             "volume_total": mv.volume_total, "status": mv.status},
                )
        self.state.version += 1
        self.counts["moves"] += len(moved)
        self.timings["moves"] += time.monotonic() - started
        if (t - w.start) % DAY == 0 and t < w.end:
            self.log.open_markets.append(int(self.state.open.sum()))
        if self.drives:
            started = time.monotonic()
            self._beat(t)
            self.timings["beat"] += time.monotonic() - started

    def _beat(self, t):
        due = self.beat.due(t - self.world.start)
        if not self.strategy.learns:  # only an arm whose config ranks with the model trains one
            due.discard("ranking_model")
        self.transport.beat(due=due, now=_dt(t))

    # --- users -----------------------------------------------------------------------------------
    def _session_start(self, queue, t, plan):
        w = self.world
        session = _Session(plan, random.Random(f"sim-behaviour:{w.seed}:{plan.user}:{plan.index}"))
        first_feed = t
        if plan.landing >= 0 and w.is_open(plan.landing, t):
            events, first_feed = w.landing_events(plan, session.rng)
            self._queue_events(plan.user, events)
            session.signal = True
        self._push(queue, first_feed, _FEED, session)

    def _feed(self, queue, t, session):
        w, plan = self.world, session.plan
        if self.drives and plan.user in self.pending_users:
            self._flush(t)
        started = time.monotonic()
        feed = len(self.log.feeds)
        request_id = str(uuid.UUID(int=self.ids.getrandbits(128), version=4))
        memory = self.memories[plan.user]
        extra = {"plan": plan} if self.strategy.sees_plan else {}
        items = self.transport.feed(strategy=self.strategy, world=w, state=self.state, user_index=plan.user,
                                    now=_dt(t), feed_request_id=request_id, limit=self.limit, memory=memory,
                                    **extra)
        self.timings["feeds"] += time.monotonic() - started
        self.counts["feeds"] += 1
        if not items:
            return self._session_end(session, t)
        self.feed_request_ids[feed] = request_id
        markets = [m for m, _ in items]
        pools = dict(items)
        day = self._day(t)
        self.log.feeds.append((feed, day, plan.user, [w.markets[m].category for m in markets[:9]]))
        reaction = w.feed_react(user_index=plan.user, plan=plan, items=markets, t=t, feed=feed, memory=memory,
                                rng=session.rng)
        for m, _, at in reaction.shown:
            p, volume, _ = w.state_at(m, at)
            self.log.showings.append(Showing(plan.user, m, at, p, volume, feed, pools[m], m in reaction.clicked))
        self.log.engaged.append((day, reaction.engaged))
        if plan.intent:
            if session.signal:
                session.hits.append(any(plan.intent in w.tag_sets[m] for m in markets[:10]))
            elif any(plan.intent in w.tag_sets[m] for m in reaction.clicked):
                session.signal = True
        self._queue_events(plan.user, [*reaction.events, *(
            _Impression(at, m, position, feed) for m, position, at in reaction.shown)])
        session.feeds += 1
        if reaction.again and session.feeds < MAX_FEEDS_PER_SESSION:
            self._push(queue, reaction.end + session.rng.uniform(5, 40), _FEED, session)
        else:
            self._session_end(session, reaction.end)

    def _session_end(self, session, t):
        if session.plan.intent and session.signal:
            self.log.intents.append((self._day(session.plan.start), session.hits))

    # --- ingestion ---------------------------------------------------------------------------------
    def _queue_events(self, user, events):
        if not self.drives:
            return
        for e in events:
            self.pending.append((e.at, user, e))
        self.pending_users.add(user)

    def _flush(self, t):
        """Send every event that happened up to `t`, interactions first (they open sessions)."""
        if not self.pending:
            return
        started = time.monotonic()
        self.pending.sort(key=lambda x: x[0])
        cut = next((k for k, x in enumerate(self.pending) if x[0] > t), len(self.pending))
        due, self.pending = self.pending[:cut], self.pending[cut:]
        self.pending_users = {user for _, user, _ in self.pending}
        interactions = [self._interaction(user, e) for _, user, e in due if not isinstance(e, _Impression)]
        impressions = [self._impression(user, e) for _, user, e in due if isinstance(e, _Impression)]
        received_at = _dt(t)
        for kind, raw in ((INTERACTION, interactions), (IMPRESSION, impressions)):
            for start in range(0, len(raw), BATCH):
                result = self.transport.ingest(kind=kind, raw_events=raw[start : start + BATCH],
                                               received_at=received_at)
                self.counts["ingest_calls"] += 1
                self.counts["rejected"] += result["rejected"]
                if result["rejected"] and self.progress:
                    bad = next(r for r in result["results"] if r["status"] == "rejected")
                    self.progress(f"  rejected event: {bad}")
        self.counts["events"] += len(due)
        self.timings["ingest"] += time.monotonic() - started

    def _event_id(self):
        return str(uuid.UUID(int=self.ids.getrandbits(128), version=4))

    def _common(self, user, e):
        raw = {"event_id": self._event_id(), "user_key": self.world.users[user].key,
               "market_id": self.world.markets[e.market].market_id}
        if e.feed >= 0:
            raw.update(feed_request_id=self.feed_request_ids[e.feed], section=e.section, position=e.position)
        return raw

    def _interaction(self, user, e):
        raw = self._common(user, e)
        raw.update(event_type=e.event_type, occurred_at=_dt(e.at).isoformat(),
                   geo_country=self.world.users[user].country)
        if e.dwell_ms is not None:
            raw["dwell_ms"] = e.dwell_ms
        return raw

    def _impression(self, user, e):
        raw = self._common(user, e)
        raw["shown_at"] = _dt(e.at).isoformat()
        return raw


@dataclass
class _Impression:
    at: float
    market: int
    position: int
    feed: int

    @property
    def section(self):
        return section_of(self.position)


def arm_run(*, world, strategy, beat=BeatSchedule(), progress=None, transport=None):
    """Run one arm against the current database (loaded with the world's catalog when it drives the
    system), in this process or through `transport`; returns (RunLog, runner) — the runner keeps
    timings and counts."""
    if strategy.drives_system:
        strategy.prepare(world)
    selectors.caches_reset()
    runner = ArmRunner(world, strategy, beat=beat, progress=progress, transport=transport)
    runner.run()
    return runner.log, runner


def arm_result(spec, progress=None):
    """Load the catalog (if the arm drives the system), run the arm and summarize it, as plain data."""
    from django.core.management import call_command
    from django.db import connection

    from simulation.catalog import boosts_plan, catalog_write, world_build
    from simulation.metrics import summarize
    from simulation.strategies import strategy_build

    started = time.monotonic()
    if isinstance(spec["world"], dict):
        world = world_build(**spec["world"])
    else:
        with open(spec["world"], "rb") as f:
            world = pickle.load(f)
    strategy = strategy_build(spec["kind"], spec["name"], spec.get("params"))
    if strategy.drives_system:
        call_command("migrate", verbosity=0)
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:  # a scratch file: durability buys nothing here
                cursor.execute("PRAGMA synchronous=OFF")
        catalog_write(markets=world.markets, start=world.start,
                      boosts=boosts_plan(world.markets, seed=world.seed, start=world.start, days=world.days))
    setup = time.monotonic() - started
    log, runner = arm_run(world=world, strategy=strategy, beat=BeatSchedule(**spec.get("beat", {})),
                          progress=progress)
    extra = {}
    if strategy.kind == "experiment":
        from simulation.experiments import experiment_record

        extra["experiment"] = experiment_record(strategy.experiment_id, end=_dt(world.end))
    return {
        **extra,
        "name": spec["name"], "kind": spec["kind"], "params": spec.get("params"),
        "summary": summarize(log),
        "setup_seconds": round(setup, 1),
        "timings": {k: round(v, 1) for k, v in runner.timings.items()},
        "counts": runner.counts,
    }
