"""The simulation's market catalog: drawn from a Polymarket export or the demo generator, reopened
with fresh dates around the simulated start, and written through the import service."""
import math
import random
from datetime import UTC, datetime

from demo.catalog import catalog_generate
from markets.import_files import file_rows_read
from markets.importers import MarketRow, markets_import
from markets.models import EditorialBoost, Market
from simulation.world import DAY, HOUR, SimMarket, sigmoid

MAX_TAGS = 6
BOOST_NOTE = "Simulation:"


def _ts(value):
    return value.timestamp() if value is not None else None


def _dt(ts):
    return datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None


def markets_from_demo(*, count, seed, start):
    """`count` open markets of the demo generator, anchored at the simulated start."""
    anchor = _dt(start)
    catalog = catalog_generate(seed=seed, count=math.ceil(count * 1.1) + 10, now=anchor)
    markets = []
    for spec in catalog.markets:
        if spec.status != Market.Status.OPEN:
            continue
        markets.append(SimMarket(
            market_id=spec.market_id, title=spec.title, category=spec.category,
            tags=tuple((slug, catalog.tags[slug]) for slug in spec.tags), probability=spec.probability,
            volume_24h=spec.volume_24h, volume_total=spec.volume_total, created_at=_ts(spec.created_at),
            resolution_at=_ts(spec.resolution_date), event_start_at=_ts(spec.event_start_at),
            image_url=spec.image_url, country=spec.country,
        ))
        if len(markets) == count:
            break
    return markets


def markets_from_file(path, *, count, seed, start, days):
    """`count` markets sampled (seeded) from a catalog file, reopened and given fresh dates.

    The Polymarket export is almost all resolved markets with stale prices and no 24 h volume, so
    each sampled market gets: odds kept when they are not settled (else drawn), a 24 h volume from
    its lifetime volume, a creation in the 30 days before the start, and a resolution date after the
    horizon, except about one in eight that resolves during the run.
    """
    _, rows = file_rows_read(str(path))
    candidates, titles = [], set()
    for row in rows:
        if not isinstance(row, MarketRow) or not row.tags or row.fields.get("title") in titles:
            continue
        titles.add(row.fields.get("title"))
        candidates.append(row)
    candidates.sort(key=lambda row: row.market_id)
    r = random.Random(f"sim-catalog:{seed}")
    picked = r.sample(candidates, min(count, len(candidates)))
    markets = []
    for row in picked:
        f = row.fields
        p = f.get("probability")
        if p is None or not 0.03 < p < 0.97:
            p = sigmoid(r.gauss(0, 1.3))
        total = max(float(f.get("volume_total") or 0.0), r.uniform(500, 5000))
        resolves = start + r.uniform(0.5, days) * DAY if r.random() < 0.12 else start + (days + r.uniform(2, 90)) * DAY
        markets.append(SimMarket(
            market_id=row.market_id[:200], title=f["title"], category=f.get("category") or "Other",
            tags=tuple(row.tags[:MAX_TAGS]), probability=round(p, 4),
            volume_24h=round(max(50.0, total * r.uniform(0.002, 0.02)), 2), volume_total=round(total, 2),
            created_at=start - r.uniform(1 * HOUR, 30 * DAY), resolution_at=resolves,
        ))
    return markets


def boosts_plan(markets, *, seed, start, days):
    """Editors' boosts over the run: a pinned hero pick, two standing picks and a demotion, plus three
    fresh picks a day among the most traded markets. [(market index, value, starts, ends, pinned slot)]."""
    r = random.Random(f"sim-boosts:{seed}")
    by_volume = sorted(range(len(markets)), key=lambda i: (-markets[i].volume_24h, markets[i].market_id))
    top = by_volume[: max(8, len(markets) // 10)]
    if len(top) < 4:
        return []
    end = start + (days + 7) * DAY
    standing = r.sample(top, 3)
    plan = [(standing[0], 0.8, start - 6 * HOUR, end, 0), (standing[1], 0.6, start - 6 * HOUR, end, None),
            (standing[2], 0.4, start - 6 * HOUR, end, None)]
    rest = [i for i in by_volume[len(by_volume) // 2:] if i not in standing]
    if rest:
        plan.append((r.choice(rest), -0.5, start - 6 * HOUR, end, None))
    for day in range(days):
        for i in r.sample([i for i in top if i not in standing], 3):
            plan.append((i, round(r.uniform(0.3, 0.7), 2), start + day * DAY, start + (day + 1) * DAY, None))
    return plan


def catalog_write(*, markets, boosts, start):
    """Upsert the markets through `markets_import` (a snapshot each) and add the boosts."""
    rows = [
        MarketRow(
            where=f"simulation {i}", market_id=m.market_id, tags=m.tags,
            fields={
                "title": m.title, "description": "", "category": m.category, "probability": m.probability,
                "volume_24h": m.volume_24h, "volume_total": m.volume_total,
                "participant_count": max(1, round(m.volume_total / 80)), "status": Market.Status.OPEN,
                "created_at": _dt(m.created_at), "resolution_date": _dt(m.resolution_at),
                "event_start_at": _dt(m.event_start_at), "image_url": m.image_url,
            },
        )
        for i, m in enumerate(markets)
    ]
    result = markets_import(rows=rows, now=_dt(start))
    pks = dict(Market.objects.filter(market_id__in=[m.market_id for m in markets]).values_list("market_id", "pk"))
    EditorialBoost.objects.bulk_create([
        EditorialBoost(
            market_id=pks[markets[i].market_id], value=value, starts_at=_dt(starts), ends_at=_dt(ends),
            surfaces=["home"] if slot is not None else [], pinned_slot=slot, note=f"{BOOST_NOTE} editors' pick",
        )
        for i, value, starts, ends, slot in boosts
    ])
    return result


def world_build(*, users, days, markets, seed, start, catalog=None, user_model="default"):
    """The world of a run, the same for every arm: markets from `catalog` (a file) or the demo generator,
    users drawn and behaving by `user_model` (a name of `simulation.world.USER_MODELS`)."""
    from simulation.world import USER_MODELS, World

    if catalog:
        sim_markets = markets_from_file(catalog, count=markets, seed=seed, start=start, days=days)
    else:
        sim_markets = markets_from_demo(count=markets, seed=seed, start=start)
    return World(markets=sim_markets, users=users, days=days, seed=seed, start=start,
                 user_model=USER_MODELS[user_model])
