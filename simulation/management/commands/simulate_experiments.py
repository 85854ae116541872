"""`manage.py simulate_experiments`: the experiment machinery validated on simulated users.

An A/A, an A/B (v1 against a better config) and team-draft interleaving of the same two, each a real
experiment in its own system arm on the same world; then the A/A's calibration over 20 salts and the
users each method needs to detect the difference (docs/experiments.md, "On the simulator").
"""
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from simulation.compare import DEFAULT_START, ConfigError, comparison_run, config_resolve
from simulation.experiments import ALPHA, POWER, analyse, plan
from simulation.world import USER_MODELS


class Command(BaseCommand):
    help = (
        "Run an A/A, an A/B and an interleaving experiment on simulated users through the real experiment "
        "machinery; report the A/A's false alarms over 20 salts and the users A/B and interleaving need."
    )

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=300)
        parser.add_argument("--days", type=int, default=3)
        parser.add_argument("--markets", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--config-a", default="default", help="Config A of the A/B and the interleaving, and "
                            "both arms of the A/A (same choices as simulate's --config-a; default: the defaults).")
        parser.add_argument("--better", default="tuned", help="Config B, the one expected to be better (same "
                            "choices; default: tuned). The power is that of detecting B better than A.")
        parser.add_argument("--user-model", default="default", choices=sorted(USER_MODELS))
        parser.add_argument("--jobs", type=int, default=3)
        parser.add_argument("--out", default="var/simulation-experiments", metavar="DIR")

    def handle(self, *args, users, days, markets, seed, config_a, better, user_model, jobs, out, **options):
        if users < 10 or days < 1 or markets < 10:
            raise CommandError("--users must be >= 10, --days >= 1, --markets >= 10")
        try:
            (label_a, v1), (label, params) = config_resolve(config_a), config_resolve(better)
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        world = {"users": users, "days": days, "markets": markets, "seed": seed, "start": DEFAULT_START.timestamp(),
                 "catalog": None, "user_model": user_model}
        self.stdout.write(f"Experiments on {users} users x {days} days, seed {seed}: a = {label_a}, b = {label}.")
        document = comparison_run(world=world, arms=plan(v1, params), out_dir=out, jobs=jobs,
                                  log=lambda m: self.stderr.write(m))
        report = analyse(document["arms"], seed=seed)
        Path(out, "experiments.json").write_text(json.dumps(report, indent=2))
        self.stdout.write(self._table(report))

    def _table(self, r):
        aa, ab, il = r["aa"], r["ab"], r["interleaving"]
        ctr = {a["name"]: a["ctr"]["value"] for a in ab["metrics"]["arms"]}
        vs = ab["metrics"]["arms"][1].get("ctr_vs_first") or {}
        pref = il["metrics"]["preference"]
        lines = [
            f"A/A: {aa['significant']} of {aa['salts']} salts call a CTR difference at p < {ALPHA} "
            f"(over {aa['rate_salts']} salts: {aa['false_positive_rate']:.1%}); {aa['srm_alarms']} sample-ratio "
            f"alarms; as served: {aa['served_verdict']}",
            f"A/B ({ab['users']} users): CTR a {ctr['a']:.2%}, b {ctr['b']:.2%}, diff {vs.get('diff', 0):+.2%} "
            f"(p = {vs.get('p')}); {ab['metrics']['verdict']}",
            f"interleaving ({il['users']} users, {pref['feeds']} decided feeds): b preferred in "
            f"{1 - (pref['share_first'] or 0):.1%} (p = {pref['p']}); {il['metrics']['verdict']}",
            f"users needed for {POWER:.0%} power at p < {ALPHA}: A/B {ab['users_needed'] or 'beyond the grid'}, "
            f"interleaving {il['users_needed'] or 'beyond the grid'}"
            + (f"; ratio {r['ratio']:.1f}x" if r["ratio"] else ""),
        ]
        return "\n".join(lines)
