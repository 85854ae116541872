"""A whole comparison: the same world under every baseline, the oracle and two feed configs, each arm
in its own worker process (`simulation.worker`) on its own scratch database; then the tables (every
arm also as a share of the oracle), results.json and the per-day plot."""
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from personalization.models import FeedConfig
from personalization.ranking.config import LEARNED
from simulation.catalog import world_build
from simulation.metrics import HEADLINE
from simulation.plot import comparison_plot
from simulation.strategies import CONFIG, ORACLE, ORIGINAL, POPULAR, RANDOM, params_complete

TUNED_V2 = Path(__file__).with_name("tuned_v2.json")
POOLS = ("personal", "trending", "exploration", "editorial")
# Headline metrics also reported as a share of the oracle arm's: (key in the summary, column label).
ORACLE_SHARES = (("ctr", "CTR / oracle"), ("engaged_per_user_day", "engaged / oracle"))


class ConfigError(ValueError):
    pass


def config_resolve(value, surface="home"):
    """(label, params) for "default" (the parameters' defaults), "active" (the active FeedConfig of `surface`),
    "tuned" (tuned_v2.json), a FeedConfig version number of `surface` in this database, or a JSON
    file of params (full or partial)."""
    if value in (None, "", "default"):
        return "v1 (defaults)", params_complete(None)
    if value == "active":
        config = FeedConfig.objects.filter(surface=surface, is_active=True).first()
        if config is None:
            return "v1 (defaults)", params_complete(None)
        value = str(config.version)
    if value == "tuned":
        value = str(TUNED_V2)
    if str(value).isdigit():
        config = FeedConfig.objects.filter(surface=surface, version=int(value)).first()
        if config is None:
            raise ConfigError(f"no FeedConfig version {value} for surface {surface!r}")
        return f"{surface} v{config.version}", params_complete(config.params)
    path = Path(value)
    if not path.exists():
        raise ConfigError(f"{value}: not a FeedConfig version, 'default', 'tuned' nor a JSON file")
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"{value}: invalid JSON ({exc})") from None
    params = data.get("params", data) if isinstance(data, dict) else None
    if not isinstance(params, dict):
        raise ConfigError(f"{value}: expected a JSON object of params")
    label = data.get("label") if isinstance(data.get("label"), str) else path.stem
    return label, params_complete(params)


LEARNED_ARM = "learned (v1 + model)"


def learned_params():
    """The defaults with the learned ranker: v1 whose personal and trending pools the model orders once trained."""
    params = params_complete(None)
    params["ranker"]["model"] = LEARNED
    return params


def arms_plan(config_a, config_b, learned=True):
    """(name, kind, params) of every arm; the slow ones (they drive the system) first.

    With `learned`, an arm of the default config that ranks with the learned model, trained on
    its own served log every simulated night (docs/learning.md): day 1 is the formula's."""
    (label_a, params_a), (label_b, params_b) = config_a, config_b
    if label_a == label_b:
        label_b += " (B)"
    return [
        (label_a, CONFIG, params_a),
        (label_b, CONFIG, params_b),
        *([(LEARNED_ARM, CONFIG, learned_params())] if learned else []),
        ("original formula", ORIGINAL, None),
        ("random", RANDOM, None),
        ("most popular", POPULAR, None),
        ("oracle", ORACLE, None),
    ]


def comparison_run(*, world, arms, out_dir, jobs=2, beat=None, log=print, scratch=None):
    """Run every arm (at most `jobs` at a time), write results.json and metrics_by_day.png to `out_dir`.

    `world` holds the keyword arguments of `world_build` (users, days, markets, seed, start, catalog,
    user_model). Returns the results dict written to results.json: every arm's summary, and its
    `share_of_oracle` when an oracle arm ran.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="simulate-", dir=scratch) as tmp:
        # Built once here and shared: every arm meets exactly the same users, sessions and market moves.
        world_path = os.path.join(tmp, "world.pickle")
        with open(world_path, "wb") as f:
            pickle.dump(world_build(**world), f)
        specs = []
        for k, (name, kind, params) in enumerate(arms):
            arm_dir = os.path.join(tmp, f"arm{k}")
            os.makedirs(arm_dir)
            spec = {"name": name, "kind": kind, "params": params, "world": world_path, "beat": beat or {},
                    "scratch_dir": arm_dir, "out": os.path.join(arm_dir, "result.json")}
            with open(os.path.join(arm_dir, "spec.json"), "w") as f:
                json.dump(spec, f)
            specs.append(spec)
        _workers_run(specs, jobs, log)
        results = []
        for spec in specs:
            with open(spec["out"]) as f:
                results.append(json.load(f))
    oracle_shares_add(results)
    document = {
        "world": world,
        "beat": beat or {},
        "runtime_seconds": round(time.monotonic() - started, 1),
        "arms": results,
    }
    (out_dir / "results.json").write_text(json.dumps(document, indent=2))
    comparison_plot(results, out_dir / "metrics_by_day.png",
                    title=f"{world['users']} users x {world['days']} days, {world['markets']} markets, "
                          f"seed {world['seed']}")
    return document


def _workers_run(specs, jobs, log):
    base = Path(settings.BASE_DIR)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(base), os.environ.get("PYTHONPATH")])),
        # Set and dict orders of strings reach the database (tag links) and float sums: pin them.
        "PYTHONHASHSEED": "0",
    }
    waiting, running = list(specs), []
    failures = []
    while waiting or running:
        while waiting and len(running) < max(1, jobs):
            spec = waiting.pop(0)
            log(f"arm {spec['name']!r} started")
            # stderr to a file, not a pipe: a chatty worker must never block on a full pipe.
            errors = open(os.path.join(spec["scratch_dir"], "stderr.log"), "w+")
            process = subprocess.Popen(
                [sys.executable, "-m", "simulation.worker",
                 os.path.join(spec["scratch_dir"], "spec.json")],
                cwd=base, env=env, stderr=errors, text=True,
            )
            running.append((spec, process, time.monotonic(), errors))
        time.sleep(0.05)
        for item in list(running):
            spec, process, began, errors = item
            if process.poll() is None:
                continue
            running.remove(item)
            errors.seek(0)
            output = errors.read()
            errors.close()
            if process.returncode:
                failures.append(f"arm {spec['name']!r} failed:\n{output[-3000:]}")
            else:
                log(f"arm {spec['name']!r} done in {time.monotonic() - began:.0f}s")
    if failures:
        raise RuntimeError("\n".join(failures))


def oracle_shares_add(arms):
    """Give every arm `share_of_oracle`: its ORACLE_SHARES metrics (whole run) divided by the oracle
    arm's, or None for a metric the oracle scored 0 on. Without an oracle arm, nothing is added."""
    oracle = next((arm for arm in arms if arm["kind"] == ORACLE), None)
    if oracle is None:
        return arms
    best = oracle["summary"]["overall"]
    for arm in arms:
        overall = arm["summary"]["overall"]
        arm["share_of_oracle"] = {key: overall[key] / best[key] if best[key] else None for key, _ in ORACLE_SHARES}
    return arms


def results_table(document):
    """The headline metrics, one row per arm, as fixed-width text; each ORACLE_SHARES metric is
    followed by its share of the oracle when the document has one."""
    arms = document["arms"]
    shares = dict(ORACLE_SHARES) if any("share_of_oracle" in arm for arm in arms) else {}
    headers, cells = ["arm"], []
    for key, label, fmt in HEADLINE:
        headers.append(label)
        cells.append(lambda arm, key=key, fmt=fmt: fmt.format(arm["summary"]["overall"][key]))
        if key in shares:
            headers.append(shares[key])
            cells.append(lambda arm, key=key: _share(arm.get("share_of_oracle", {}).get(key)))
    return _table(headers, [[arm["name"], *(cell(arm) for cell in cells)] for arm in arms])


def _share(value):
    return "-" if value is None else f"{value:.1%}"


def pool_table(document):
    """Click-through per pool for the config arms."""
    headers = ["arm", *(f"CTR {p}" for p in POOLS), *(f"share {p}" for p in POOLS)]
    rows = []
    for arm in document["arms"]:
        if arm["kind"] != CONFIG:
            continue
        pools = arm["summary"]["overall"]["pool_ctr"]
        total = sum(v["impressions"] for v in pools.values()) or 1
        rows.append([
            arm["name"],
            *(f"{pools[p]['ctr']:.2%}" if p in pools else "-" for p in POOLS),
            *(f"{pools[p]['impressions'] / total:.0%}" if p in pools else "-" for p in POOLS),
        ])
    return _table(headers, rows)


def _table(headers, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


# The simulated week starts on a fixed Monday, whatever day the simulation runs: nothing on its
# path reads the wall clock, so the same seed gives the same table on any day.
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)

