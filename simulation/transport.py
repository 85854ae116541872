"""How an arm reaches the system: the four calls the runner makes, in this process.

The runner asks a transport for a feed, sends it events, applies market moves and runs the beat's
tasks, each on the simulated clock. `InProcess` calls the services the site's views and tasks call;
`simulation.http_replay.HttpReplay` makes the same four calls over the API with `as_of`, as an
evaluator outside the process would (docs/replay.md).
"""
from functools import partial

from ingestion.services import events_ingest
from markets.services import market_snapshots_refresh, market_states_update
from markets.validation import StateUpdate
from personalization.decay import affinities_decay_materialize, sessions_expire
from personalization.services import market_trending_refresh_configured
from personalization.training import ranking_model_train
from tracking.services import raw_events_retention_apply
from tracking.velocity import market_velocity_refresh

# The beat's tasks in the order a tick runs them (the schedule's order: state first, then what is
# computed from it): the runner's name, the periodic task's name, its service.
BEAT_TASKS = (
    ("snapshots", "markets.snapshots_refresh", market_snapshots_refresh),
    ("velocity", "markets.velocity_refresh", market_velocity_refresh),
    ("trending", "markets.trending_refresh", market_trending_refresh_configured),
    ("session_expiry", "personalization.session_expiry", sessions_expire),
    ("affinity_decay", "personalization.affinity_decay", affinities_decay_materialize),
    ("retention", "tracking.impressions_retention", raw_events_retention_apply),
    ("ranking_model", "personalization.ranking_model_train", partial(ranking_model_train, trigger="simulation")),
)
INGEST_DEFAULTS = {"surface": "home"}


class InProcess:
    """The services themselves, in this process: what `manage.py simulate` runs."""

    def feed(self, *, strategy, **kwargs):
        """[(world market index, pool)] in feed order: the strategy's own feed."""
        return strategy.feed(**kwargs)

    def ingest(self, *, kind, raw_events, received_at):
        """One batch of the world's users (named per event), as a service sends it; results as the API gives them."""
        return events_ingest(kind=kind, raw_events=raw_events, user_key=None, acting_service=True,
                             defaults=INGEST_DEFAULTS, received_at=received_at).as_dict()

    def market_update(self, *, market_id, changes, at):
        market_states_update(updates=[StateUpdate(market_id, at, changes)], now=at)

    def beat(self, *, due, now):
        """The services of the due tasks (runner names), in the schedule's order, without the tasks' locks."""
        for name, _, service in BEAT_TASKS:
            if name in due:
                service(now=now)
