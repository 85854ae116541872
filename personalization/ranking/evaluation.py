"""Offline comparison of rankers on the served log: MIND's impression metrics and SNIPS on exploration slots.

Pure numpy, no Django. One feed (a feed_request_id) is one MIND "impression": its rendered items,
each with a score from the ranker being judged and a click label. The metrics are those of the
MIND benchmark (Wu et al., ACL 2020): per impression AUC, MRR and nDCG@k, averaged over
impressions. Ties in a score are resolved by expectation over random tie orders (McSherry &
Najork, ECIR 2008), so a scorer that cannot tell items apart is not credited with the served order.
"""
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata


def feed_auc(labels, scores):
    """The chance a clicked item outscores an unclicked one (ties count half); None without both kinds."""
    y = np.asarray(labels, dtype=bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if not positives or not negatives:
        return None
    ranks = rankdata(np.asarray(scores, dtype=float))  # midranks: ties count half
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _expected_discounts(scores, discount):
    """Per item, the mean over random tie orders of discount(rank) (rank 1 = best score)."""
    s = np.asarray(scores, dtype=float)
    order = np.argsort(-s, kind="stable")
    sorted_scores = s[order]
    per_rank = discount(np.arange(1, len(s) + 1))
    out = np.empty(len(s))
    start = 0
    while start < len(s):
        end = start + 1
        while end < len(s) and sorted_scores[end] == sorted_scores[start]:
            end += 1
        out[order[start:end]] = per_rank[start:end].mean()
        start = end
    return out


def feed_mrr(labels, scores):
    """MIND's MRR: the mean over clicked items of 1 / rank; None without a click."""
    y = np.asarray(labels, dtype=float)
    if not y.any():
        return None
    reciprocal = _expected_discounts(scores, lambda r: 1.0 / r)
    return float((y * reciprocal).sum() / y.sum())


def feed_ndcg(labels, scores, k):
    """MIND's nDCG@k: gains 2^y − 1 discounted by log2(1 + rank), over the ideal order; None without a click."""
    y = np.asarray(labels, dtype=float)
    if not y.any():
        return None

    def discount(r):
        return np.where(r <= k, 1.0 / np.log2(r + 1), 0.0)

    gains = 2.0 ** y - 1.0
    dcg = (gains * _expected_discounts(scores, discount)).sum()
    ideal = (np.sort(gains)[::-1] * discount(np.arange(1, len(y) + 1))).sum()
    return float(dcg / ideal)


@dataclass
class FeedMetrics:
    feeds: int  # feeds with at least one click: MRR and nDCG are averaged over these
    auc_feeds: int  # feeds with a click and a non-click: AUC is averaged over these
    rows: int  # rendered items of all feeds
    auc: float | None
    mrr: float | None
    ndcg5: float | None
    ndcg10: float | None


def _mean(values):
    values = [v for v in values if v is not None]
    return (float(np.mean(values)) if values else None), len(values)


def feed_metrics(feed_ids, labels, scores):
    """MIND's metrics of `scores` over the feeds `feed_ids` groups the rows into (any order of rows)."""
    feed_ids, labels, scores = np.asarray(feed_ids), np.asarray(labels, dtype=bool), np.asarray(scores, dtype=float)
    order = np.argsort(feed_ids, kind="stable")
    _, starts = np.unique(feed_ids[order], return_index=True)
    aucs, mrrs, n5, n10 = [], [], [], []
    for part in np.split(order, starts[1:]) if len(order) else []:
        y, s = labels[part], scores[part]
        aucs.append(feed_auc(y, s))
        mrrs.append(feed_mrr(y, s))
        n5.append(feed_ndcg(y, s, 5))
        n10.append(feed_ndcg(y, s, 10))
    auc, auc_feeds = _mean(aucs)
    mrr, feeds = _mean(mrrs)
    return FeedMetrics(feeds, auc_feeds, int(len(labels)), auc, mrr, _mean(n5)[0], _mean(n10)[0])


@dataclass
class Snips:
    ctr: float | None
    ess: float  # effective sample size (Σw)² / Σw²: how many logged slots the estimate is worth
    slots: int


def snips_ctr(clicks, scores, *, tilt):
    """Self-normalised IPS estimate of the CTR of the randomized slots under a candidate's policy.

    We logged the chance p_log(a) of the drawn item, not the slot's candidate set, so the candidate's
    policy is defined on the logging draw's support: the draw tilted toward the candidate,
    π_c(a) ∝ p_log(a) · exp(tilt · z(a)), z the candidate's score standardised over these slots.
    Its importance weight π_c / p_log is exp(tilt · z(a)) / Z_slot with Z_slot = E_p_log[exp(tilt · z)];
    self-normalising drops Z_slot, which is exact when Z_slot is the same in every slot (the
    candidate sees each slot's candidates alike) and otherwise weighs slots by Z_slot.
    tilt = 0 is the logging policy itself: the logged CTR, ESS = the number of slots.
    """
    r = np.asarray(clicks, dtype=float)
    s = np.asarray(scores, dtype=float)
    if not len(r):
        return Snips(None, 0.0, 0)
    spread = s.std()
    z = (s - s.mean()) / spread if spread > 0 else np.zeros(len(s))
    w = np.exp(tilt * z - np.max(tilt * z))  # a common factor cancels; this one keeps exp finite
    return Snips(float((w * r).sum() / w.sum()), float(w.sum() ** 2 / (w ** 2).sum()), int(len(r)))
