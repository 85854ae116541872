"""`manage.py evaluate_rankers --since ISO [--until ISO] [--model V ...] [--candidate]`: compare rankers offline."""
from datetime import UTC, datetime, time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from personalization.evaluation import ComparisonError, rankers_compare
from personalization.training import SETTLE


def _moment(text, option):
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = datetime.combine(day, time())
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(f"{option} {text!r} is not an ISO date or date-time (e.g. 2026-05-01 or 2026-05-01T12:00)")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _version(text):
    try:
        version = int(text)
    except ValueError:
        version = 0
    if version < 1:
        raise CommandError(f"--model {text!r} is not a ranking model version (a whole number from 1)")
    return version


class Command(BaseCommand):
    help = (
        "Replay the served feeds of a window and compare rankers on what users clicked: the formula (the logged "
        "score), stored learned models and a candidate trained on the days before the window. Per feed AUC, MRR, "
        "nDCG@5/@10 (MIND's metrics), and a self-normalised IPS estimate of the exploration slots' CTR. "
        "Writes and activates nothing. See docs/learning.md, 'Comparing rankers offline'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="Start of the window (ISO date or date-time; UTC if naive).")
        parser.add_argument(
            "--until", help="End of the window, excluded (default: an hour ago; outcomes need time to happen)."
        )
        parser.add_argument(
            "--model", action="append", default=[], metavar="VERSION", help="A RankingModel version; repeatable."
        )
        parser.add_argument(
            "--candidate", action="store_true",
            help="Also fit a candidate on the served log of the days before --since (not stored, not activated).",
        )
        parser.add_argument(
            "--candidate-days", default="", metavar="DAYS",
            help="Days of log the candidate learns from (default RANKING_MODEL_WINDOW_DAYS); implies --candidate.",
        )
        parser.add_argument(
            "--tilt", default="1.0", metavar="LAMBDA",
            help="How far the SNIPS policy leans toward each scorer's ranking (λ; 0 = the logged CTR). Default 1.",
        )

    def handle(self, *args, since, until, model, candidate, candidate_days, tilt, **options):
        since = _moment(since, "--since")
        until = _moment(until, "--until") if until else timezone.now() - SETTLE
        versions = list(dict.fromkeys(_version(v) for v in model))
        days = None
        if candidate_days:
            if not candidate_days.isdigit() or int(candidate_days) < 1:
                raise CommandError(f"--candidate-days {candidate_days!r} is not a whole number of days from 1")
            days = int(candidate_days)
        elif candidate:
            days = settings.RANKING_MODEL_WINDOW_DAYS
        try:
            lam = float(tilt)
        except ValueError:
            lam = float("nan")
        if not -10 <= lam <= 10:
            raise CommandError(f"--tilt {tilt!r} is not a number between -10 and 10")
        try:
            comparison = rankers_compare(since=since, until=until, versions=versions, candidate_days=days, tilt=lam)
        except ComparisonError as exc:
            raise CommandError(str(exc)) from None
        self._write(comparison)

    def _write(self, c):
        out = self.stdout.write
        out(f"Served feeds {c.since:%Y-%m-%d %H:%M} – {c.until:%Y-%m-%d %H:%M} UTC: {c.feeds:,} feeds, "
            f"{c.rows:,} rendered items, {c.clicks:,} clicked")
        if c.logged.slots:
            out(f"Exploration slots: {c.logged.slots:,}, logged CTR {c.logged.ctr:.4f} (SNIPS at λ = 0)")
        else:
            out("Exploration slots: none rendered in the window, no SNIPS estimate")
        for warning in c.warnings:
            self.stderr.write(f"warning: {warning}")
        header = (f"{'scorer':28} {'feeds':>6} {'auc feeds':>9} {'rows':>7} {'AUC':>6} {'MRR':>6} {'nDCG@5':>6} "
                  f"{'nDCG@10':>7} {f'SNIPS CTR λ={c.tilt:g}':>17} {'ESS':>7}")
        out(header)
        out("-" * len(header))
        for r in c.results:
            m, s = r.metrics, r.snips
            out(f"{r.name:28} {m.feeds:>6,} {m.auc_feeds:>9,} {m.rows:>7,} {_f(m.auc):>6} {_f(m.mrr):>6} "
                f"{_f(m.ndcg5):>6} {_f(m.ndcg10):>7} {_f(s.ctr):>17} {s.ess:>7.1f}")
        out("feeds: with a click (MRR, nDCG); auc feeds: with a click and a non-click (AUC); "
            "ESS: effective number of exploration slots behind the SNIPS estimate.")


def _f(value):
    return "–" if value is None else f"{value:.4f}"
