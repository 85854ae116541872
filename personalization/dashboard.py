"""The live dashboard for editors and ops, from the real logs: computed by beat, read by the admin page.

Per day over the last two weeks, from the served log's rendered items and what users did from them:
CTR and engagement per pool, per surface and per ranker (config version, and model version when a
learned model ranked); coverage, repeat feeds and hides; the last 24 h's top markets; the running
experiments with their verdicts. Charts are drawn here (matplotlib, SVG) with the figures, so a
page view reads one row. docs/dashboard.md.
"""
import base64
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402

from markets.models import Market  # noqa: E402
from personalization.experiments import CLICKS, ENGAGED, REJECTED, repeated_feeds  # noqa: E402
from personalization.models import DashboardSnapshot, Experiment  # noqa: E402
from tracking.selectors import served_outcomes  # noqa: E402

DAYS = 14
KEEP = 96  # snapshots kept: a day of quarter-hour runs
TOP_MARKETS = 10
POOLS = ("personal", "trending_local", "trending_global", "exploration", "editorial")


def _day(ts):
    return datetime.fromtimestamp(ts, tz=UTC).date().isoformat()


def _rates(counts):
    impressions = counts["impressions"]
    return {
        **counts,
        "ctr": counts["clicks"] / impressions if impressions else 0.0,
        "engaged_rate": counts["engaged"] / impressions if impressions else 0.0,
        "hide_rate": counts["rejected"] / impressions if impressions else 0.0,
    }


def _counter():
    return {"impressions": 0, "clicks": 0, "engaged": 0, "rejected": 0}


def dashboard_compute(*, now):
    """The dashboard's figures as of `now` (plain data)."""
    start = datetime.combine((now - timedelta(days=DAYS - 1)).date(), datetime.min.time(), tzinfo=UTC)
    rows = list(served_outcomes(start=start, end=now, event_types=sorted(CLICKS | ENGAGED | REJECTED)))
    by = {"day": defaultdict(_counter), "pool": defaultdict(_counter), "surface": defaultdict(_counter),
          "ranker": defaultdict(_counter)}
    feeds, users, markets = defaultdict(set), defaultdict(set), defaultdict(set)
    top = defaultdict(_counter)
    day_ago = (now - timedelta(hours=24)).timestamp()
    for r in rows:
        day = _day(r.served_at)
        outcome = (1, bool(r.events & CLICKS), bool(r.events & ENGAGED), bool(r.events & REJECTED))
        ranker = f"{r.surface} v{r.config_version}" + (f" + model v{r.model_version}" if r.model_version else "")
        for key in (by["day"][day], by["pool"][(day, r.pool)], by["surface"][(day, r.surface)],
                    by["ranker"][(day, ranker)], *((top[r.market_pk],) if r.served_at >= day_ago else ())):
            for name, value in zip(("impressions", "clicks", "engaged", "rejected"), outcome, strict=True):
                key[name] += value
        feeds[day].add(r.feed_request_id)
        users[day].add(r.user_key)
        markets[day].add(r.market_pk)
    repeated = repeated_feeds(rows)
    open_markets = Market.objects.filter(status=Market.Status.OPEN).count()
    days = []
    for day in sorted(by["day"]):
        days.append({
            "day": day, **_rates(by["day"][day]), "feeds": len(feeds[day]), "users": len(users[day]),
            "repeat_feed_share": len(feeds[day] & repeated) / len(feeds[day]) if feeds[day] else 0.0,
            "coverage": len(markets[day]) / open_markets if open_markets else 0.0,
        })
    best = sorted(top.items(), key=lambda kv: (-kv[1]["clicks"], -kv[1]["impressions"], kv[0]))[:TOP_MARKETS]
    names = {pk: (market_id, title) for pk, market_id, title in
             Market.objects.filter(pk__in=[pk for pk, _ in best]).values_list("pk", "market_id", "title")}
    top_markets = []
    for pk, counts in best:
        market_id, title = names.get(pk, (str(pk), ""))
        top_markets.append({"market_id": market_id, "title": title, **_rates(counts)})
    return {
        "as_of": now.isoformat(), "since": start.date().isoformat(), "rendered_items": len(rows),
        "open_markets": open_markets, "days": days,
        **{group: [{"day": day, "name": name, **_rates(counts)}
                   for (day, name), counts in sorted(by[group].items())] for group in ("pool", "surface", "ranker")},
        "top_markets": top_markets,
        "experiments": [
            {"id": e.pk, "name": e.name, "surface": e.surface, "mode": e.mode, "verdict": e.metrics.get("verdict", ""),
             "alarm": bool(e.metrics.get("srm", {}).get("alarm")),
             "arms": [{"name": arm["name"], "users": arm["users"], "ctr": arm["ctr"]["value"],
                       "engaged_per_user": arm["engaged_per_user"]["value"]} for arm in e.metrics.get("arms", [])],
             "metrics_at": e.metrics_at.isoformat() if e.metrics_at else None}
            for e in Experiment.objects.filter(status=Experiment.Status.RUNNING).order_by("surface", "pk")
        ],
    }


def _svg(fig):
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode()).decode("ascii")


def dashboard_charts(data):
    """name -> data URI of an SVG chart (an <img> shows it under the site's CSP)."""
    days = [d["day"] for d in data["days"]]
    if not days:
        return {}
    x = list(range(len(days)))  # positions, labelled with the days (strings would be parsed as dates, noisily)
    charts = {}
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    for pool in POOLS:
        points = {p["day"]: p["ctr"] * 100 for p in data["pool"] if p["name"] == pool}
        if points:
            ax.plot(x, [points.get(d, float("nan")) for d in days], marker="o", markersize=3, label=pool)
    ax.plot(x, [d["ctr"] * 100 for d in data["days"]], color="black", linewidth=2, label="all")
    ax.set(title="CTR per day by pool", ylabel="% of rendered items")
    _day_axis(ax, days)
    ax.legend(fontsize=7, ncol=3)
    charts["ctr_by_pool"] = _svg(fig)

    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    for key, label in (("coverage", "coverage"), ("repeat_feed_share", "repeat feeds"), ("hide_rate", "hides")):
        ax.plot(x, [d[key] * 100 for d in data["days"]], marker="o", markersize=3, label=label)
    ax.set(title="Coverage, repeat feeds and hides per day", ylabel="%")
    _day_axis(ax, days)
    ax.legend(fontsize=7)
    charts["health"] = _svg(fig)
    return charts


def _day_axis(ax, days):
    ax.set_xticks(range(len(days)), [day[5:] for day in days], rotation=45, fontsize=7)
    ax.grid(alpha=0.3)


def dashboard_refresh(*, now):
    """Compute and store the dashboard as of `now`; keep the last KEEP snapshots."""
    data = dashboard_compute(now=now)
    DashboardSnapshot.objects.create(computed_at=now, data=data, charts=dashboard_charts(data))
    stale = DashboardSnapshot.objects.order_by("-computed_at").values_list("pk", flat=True)[KEEP:]
    deleted, _ = DashboardSnapshot.objects.filter(pk__in=list(stale)).delete()
    return {"rendered_items": data["rendered_items"], "days": len(data["days"]), "deleted": deleted}
