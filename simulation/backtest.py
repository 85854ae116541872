"""The trending backtest: replay a MarketSeries through the state push, run the periodic tasks on the
replayed clock, and score trending and two volume baselines against the next period's volume.

`manage.py backtest_trending` runs it; docs/trending-backtest.md has the method and the results.
"""
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from scipy.stats import spearmanr

from markets.models import Market, MarketVelocity
from markets.services import market_states_update
from markets.validation import StateUpdate
from ops.services import periodic_tasks_run_here
from simulation.market_series import HOURS_PER_DAY, rolling_sum

PREFIX = "backtest-"
START = datetime(2026, 9, 1, tzinfo=UTC)  # fixed, so a seeded run gives the same table on any day
TASKS = ("markets.snapshots_refresh", "markets.velocity_refresh", "markets.trending_refresh")
DAILY_TASKS = ("markets.trending_forecast_fit",)  # run at a period end that is a day's end, as the live beat does
RANKERS = ("trending", "volume_24h", "mean_7d")
TOP = 20


def state_write(pushes, *, at):
    """The trading backend's push of `pushes` [(market_id, changes)] at `at`, through the batch service
    POST /api/markets/state calls (market_states_update): the one call of the state write."""
    results = market_states_update(updates=[StateUpdate(market_id, at, changes) for market_id, changes in pushes],
                                   now=at)
    rejected = [r for r in results if r.get("status") == "rejected"]
    if rejected:
        raise RuntimeError(f"state push rejected at {at}: {rejected[:3]}")


def precision_at(scores, target, k, tie_break):
    """Share of the k markets with the highest target that are among the k highest scores.

    Ties in a score are broken by `tie_break` (a fixed random order), so no ranker gains from the
    order markets were created in."""
    k = min(k, len(scores))
    if k == 0:
        return float("nan")
    top_score = np.lexsort((tie_break, -np.asarray(scores)))[:k]
    top_target = np.argsort(-np.asarray(target), kind="stable")[:k]
    return len(set(top_score.tolist()) & set(top_target.tolist())) / k


def spearman(scores, target):
    if len(scores) < 3 or np.ptp(scores) == 0 or np.ptp(target) == 0:
        return float("nan")
    return float(spearmanr(scores, target).statistic)


@dataclass
class PeriodResult:
    at: datetime
    markets: int
    spearman: dict = field(default_factory=dict)
    precision: dict = field(default_factory=dict)


class Replay:
    """The series pushed hour by hour (or day by day) onto markets `backtest-<k>`."""

    def __init__(self, series, *, start=START, step_hours=1):
        self.series, self.start, self.step_hours = series, start, step_hours
        self.total = np.cumsum(series.volume, axis=0)
        self.volume_24h = rolling_sum(series.volume, HOURS_PER_DAY)
        self.trades_24h = rolling_sum(series.trades, HOURS_PER_DAY)
        self.ids = [f"{PREFIX}{k}" for k in range(series.markets)]
        self.pks = np.zeros(series.markets, dtype=np.int64)
        self.listed = np.zeros(series.markets, dtype=bool)
        self.closed = np.zeros(series.markets, dtype=bool)

    def time_after(self, hour):
        """The replayed clock at the end of `hour` (its state is pushed then)."""
        return self.start + timedelta(hours=hour + 1)

    def resolution_date(self, k):
        """The end date the catalog lists: when the market stops trading, if that is inside the series (the
        series does not say when the others end: None, as a catalog without an end date)."""
        closes_at = int(self.series.closes_at[k])
        return self.start + timedelta(hours=closes_at) if closes_at < self.series.hours else None

    def state(self, hour, k):
        s = self.series
        return {"probability": float(s.probability[hour, k]), "volume_total": float(round(self.total[hour, k], 2)),
                "volume_24h": float(round(self.volume_24h[hour, k], 2)), "trades_24h": int(self.trades_24h[hour, k]),
                "participant_count": int(s.participants[hour, k])}

    def push(self, hour):
        """List the markets that opened by the end of `hour`, push every listed market's state, close
        the ones that closed."""
        at, s = self.time_after(hour), self.series
        opening = np.flatnonzero(~self.listed & (s.opens_at <= hour))
        if len(opening):
            created = Market.objects.bulk_create([
                Market(market_id=self.ids[k], title=f"Backtest market {k}", category="Politics",
                       status=Market.Status.OPEN, created_at=self.start + timedelta(hours=int(s.opens_at[k])),
                       resolution_date=self.resolution_date(k), **self.state(hour, k))
                for k in opening
            ])
            self.pks[opening] = [m.pk for m in created]
            self.listed[opening] = True
        pushes = []
        for k in np.flatnonzero(self.listed & ~self.closed):
            changes = self.state(hour, k)
            if not s.open[hour, k]:
                changes["status"] = Market.Status.CLOSED
                self.closed[k] = True
            pushes.append((self.ids[k], changes))
        state_write(pushes, at=at)

    def evaluate(self, hour, period_hours, tie_break):
        """Scores at the end of `hour` against the volume of the next `period_hours`, over the markets open
        in `hour` (those the site would rank)."""
        s = self.series
        live = np.flatnonzero(s.open[hour] & self.listed)
        trending = dict(MarketVelocity.objects.filter(scope="global", market_id__in=self.pks[live].tolist())
                        .values_list("market_id", "trending_score"))
        week = slice(max(0, hour + 1 - 7 * HOURS_PER_DAY), hour + 1)
        days_open = np.maximum(s.open[week][:, live].sum(axis=0) / HOURS_PER_DAY, 1.0)
        scores = {
            "trending": np.array([trending.get(pk, 0.0) for pk in self.pks[live]]),
            "volume_24h": self.volume_24h[hour, live],
            "mean_7d": s.volume[week][:, live].sum(axis=0) / days_open,
        }
        target = s.volume[hour + 1 : hour + 1 + period_hours, live].sum(axis=0)
        result = PeriodResult(at=self.time_after(hour), markets=len(live))
        for name, values in scores.items():
            result.spearman[name] = spearman(values, target)
            result.precision[name] = precision_at(values, target, TOP, tie_break[live])
        return result


def backtest_run(series, *, period_hours, step_hours=1, warmup_days=7, log=None):
    """Replay `series` and return a PeriodResult per period after the warm-up.

    State is pushed every `step_hours` (1: hourly pushes; 24: one push a day, the end-of-day state);
    at the end of every period the periodic tasks run on the replayed clock and the three rankers are
    scored against the volume of the next period."""
    replay = Replay(series, step_hours=step_hours)
    tie_break = np.random.default_rng(0).permutation(series.markets)
    results = []
    last_hour = series.hours - 1 - period_hours
    for hour in range(series.hours):
        due = (hour + 1) % step_hours == 0
        evaluate = hour + 1 >= warmup_days * HOURS_PER_DAY and (hour + 1) % period_hours == 0 and hour <= last_hour
        if due or evaluate:
            replay.push(hour)
        if evaluate:
            at = replay.time_after(hour)
            names = [*TASKS[:2], *(DAILY_TASKS if (hour + 1) % HOURS_PER_DAY == 0 else ()), *TASKS[2:]]
            report = periodic_tasks_run_here(names=names, at=at)
            failed = [run for run in report if run["outcome"] != "success"]
            if failed:
                raise RuntimeError(f"periodic tasks did not run at {at}: {failed}")
            results.append(replay.evaluate(hour, period_hours, tie_break))
            if log:
                log(period_row(results[-1]))
    return results


def period_row(result):
    cells = [f"{result.spearman[n]:.3f} / {result.precision[n]:.2f}" for n in RANKERS]
    return f"{result.at:%Y-%m-%d %H:%M} | {result.markets:4d} | " + " | ".join(cells)


def medians(results):
    return {
        "spearman": {n: float(np.nanmedian([r.spearman[n] for r in results])) for n in RANKERS},
        "precision": {n: float(np.nanmedian([r.precision[n] for r in results])) for n in RANKERS},
        "wins": {
            n: {"spearman": sum(r.spearman["trending"] > r.spearman[n] for r in results),
                "precision": sum(r.precision["trending"] > r.precision[n] for r in results),
                "precision_ties": sum(r.precision["trending"] == r.precision[n] for r in results)}
            for n in RANKERS[1:]
        },
    }
