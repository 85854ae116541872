"""The learned ranker: P(click), P(engage) and P(reject) of a served item, fitted on the served log.

Pure numpy + scikit-learn, no Django. A model is fitted (`fit`) on rows of the served log — the
components an item was ranked with, its pool and its position, and what the user then did with
it — and kept as plain numbers (`payload`, JSON): one logistic regression per outcome, with its
standardisation folded into the coefficients, so serving is one matrix product over the catalog
and nothing is unpickled.

Position is a feature of its own (log(1 + position)) and so is the pool: at serving both are set
to a reference (the hero slot of the personal pool), so the model learns the feed's position
bias as a term and does not carry it into the ranking (the position-debiasing of click models).

The score an item is ranked by is Σ value_e × P(e) (the heavy-ranker form: values multiply
predicted probabilities, not counts). Each outcome groups event kinds (engage = a bet, a
bookmark, a share, a comment); its value is the editors' value of each kind (FeedConfig
"events") weighted by how often that kind made up the outcome in the training data.
"""
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

OUTCOMES = {
    "click": ("click", "view_market"),
    "engage": ("participate", "participate_intent", "bookmark", "share", "comment"),
    "reject": ("hide", "not_interested"),
}
POOLS = ("personal", "trending_local", "trending_global", "exploration", "editorial")
REFERENCE_POOL = "personal"  # the pool an item is scored as at serving: dummies all zero
REFERENCE_POSITION = 0  # the hero slot: log(1 + 0) = 0, the position term vanishes
POSITION = "log_position"
CALIBRATION_BINS = 10
PAYLOAD_FORMAT = 1


@dataclass(frozen=True)
class Model:
    """A fitted version as serving holds it."""

    version: int
    payload: dict


def pool_features():
    return [f"pool_{p}" for p in POOLS if p != REFERENCE_POOL]


@dataclass
class Rows:
    """The served items a model learns from, as arrays: one row per rendered item."""

    components: dict  # component name -> float array
    pool: np.ndarray  # pool names
    position: np.ndarray
    formula_score: np.ndarray  # the score the formula ranked the item with
    served_at: np.ndarray  # epoch seconds
    events: list  # per row: the set of event kinds the user did on the item from that feed

    def __len__(self):
        return len(self.pool)

    def label(self, outcome):
        kinds = set(OUTCOMES[outcome])
        return np.array([bool(kinds & e) for e in self.events], dtype=bool)


def design(rows, names):
    """The feature matrix: the named components, the pool dummies and log(1 + position)."""
    columns = [np.asarray(rows.components.get(name, np.zeros(len(rows))), dtype=float) for name in names]
    columns += [(rows.pool == p).astype(float) for p in POOLS if p != REFERENCE_POOL]
    columns.append(np.log1p(np.asarray(rows.position, dtype=float)))
    return np.column_stack(columns) if columns else np.zeros((len(rows), 0))


def split(rows, holdout_share):
    """Train on the older rows, hold out the newest `holdout_share`: a model is judged on the future."""
    order = np.argsort(rows.served_at, kind="stable")
    cut = int(round(len(order) * (1 - holdout_share)))
    return order[:cut], order[cut:]


def fit(rows, *, names, holdout_share=0.2, min_positives=20, regularization=1.0):
    """Fit one model per outcome; returns (payload, report).

    The payload is what serving reads. The report has, per outcome, the sample counts, the held-out
    AUC and log loss of the model beside the formula's AUC on the same rows, and a calibration
    table; an outcome with fewer than `min_positives` positives in either part is left out, and
    the report says so.
    """
    train, held = split(rows, holdout_share)
    x = design(rows, names)
    # One standardisation of the training rows for every outcome, folded into each one's coefficients.
    mean, scale = x[train].mean(axis=0), x[train].std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    standard = (x[train] - mean) / scale
    features = [*names, *pool_features(), POSITION]
    payload = {"format": PAYLOAD_FORMAT, "features": list(features), "components": list(names), "outcomes": {}}
    report = {"rows": {"train": int(len(train)), "held_out": int(len(held))}, "outcomes": {}}
    for outcome, kinds in OUTCOMES.items():
        y = rows.label(outcome)
        positives = {"train": int(y[train].sum()), "held_out": int(y[held].sum())}
        entry = {"positives": positives}
        report["outcomes"][outcome] = entry
        if min(positives.values()) < min_positives or positives["train"] == len(train):
            entry["skipped"] = f"fewer than {min_positives} positives in training or held-out rows"
            continue
        model = LogisticRegression(C=regularization, max_iter=1000).fit(standard, y[train])
        coef = model.coef_[0] / scale
        intercept = float(model.intercept_[0] - coef @ mean)
        p_held = _sigmoid(x[held] @ coef + intercept)
        sign = -1.0 if outcome == "reject" else 1.0  # the formula ranks what it expects to be rejected last
        entry.update(
            auc=_auc(y[held], p_held),
            formula_auc=_auc(y[held], sign * rows.formula_score[held]),
            log_loss=float(log_loss(y[held], p_held, labels=[False, True])),
            base_rate=float(y[train].mean()),
            calibration=calibration(y[held], p_held),
        )
        mix = _mix(rows, train, kinds)
        payload["outcomes"][outcome] = {
            "coef": [float(c) for c in coef], "intercept": intercept, "mix": mix,
        }
    return payload, report


def _mix(rows, index, kinds):
    """Each kind's share of the outcome's positive rows (how the outcome's value is composed)."""
    counts = {k: sum(1 for i in index if k in rows.events[i]) for k in kinds}
    total = sum(counts.values())
    return {k: c / total for k, c in counts.items() if c} if total else {}


def _auc(y, score):
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, score))


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def calibration(y, p, bins=CALIBRATION_BINS):
    """Held-out rows in `bins` groups of equal size by predicted P: mean prediction beside the observed rate."""
    order = np.argsort(p, kind="stable")
    table = []
    for part in np.array_split(order, min(bins, len(order))):
        if len(part):
            table.append(
                {"predicted": float(p[part].mean()), "observed": float(y[part].mean()), "count": int(len(part))}
            )
    return table


def outcome_values(payload, event_values):
    """{outcome: value}: the editors' value of each event kind, weighted by the outcome's mix."""
    values = {}
    for outcome, model in payload["outcomes"].items():
        mix = model["mix"] or {k: 1 / len(OUTCOMES[outcome]) for k in OUTCOMES[outcome]}
        values[outcome] = sum(share * float(event_values.get(kind, 0.0)) for kind, share in mix.items())
    return values


def probabilities(payload, components, n):
    """{outcome: P array over n markets} at the reference pool and position, from component arrays."""
    names = payload["components"]
    x = np.column_stack([np.asarray(components.get(name, np.zeros(n)), dtype=float) for name in names])
    k = len(names)  # pool dummies and the position term are 0 at the reference: only the components count
    return {
        outcome: _sigmoid(x @ np.asarray(model["coef"][:k]) + model["intercept"])
        for outcome, model in payload["outcomes"].items()
    }


def value(payload, components, n, event_values):
    """(Σ value_e × P(e) over the catalog, {outcome: P}): the learned ranker's score."""
    p = probabilities(payload, components, n)
    values = outcome_values(payload, event_values)
    total = np.zeros(n)
    for outcome, prob in p.items():
        total += values[outcome] * prob
    return total, p
