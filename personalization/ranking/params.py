"""FeedParams: the stored nested dict of a FeedConfig, read as attributes by the ranking code."""
from dataclasses import dataclass
from types import SimpleNamespace

from personalization.ranking.config import GROUPS, PARAMS, default_params


@dataclass(frozen=True)
class FeedParams:
    weights: SimpleNamespace
    quotas: dict
    caps: SimpleNamespace
    reshow: SimpleNamespace
    diversity: SimpleNamespace
    exploration: SimpleNamespace
    interest: SimpleNamespace
    features: SimpleNamespace
    ranker: SimpleNamespace
    events: dict  # event type -> value (the keys are not identifiers: "dwell_30+")
    version: int = 0

    @classmethod
    def from_dict(cls, params=None, version=0):
        """Missing values fall back to the defaults, so an older stored config still loads."""
        merged = default_params()
        for group, values in (params or {}).items():
            if group in merged and isinstance(values, dict):
                merged[group].update({k: v for k, v in values.items() if k in merged[group]})
        integer = {p.key for p in PARAMS if p.integer}
        groups = {
            g: {k: int(v) if f"{g}.{k}" in integer else float(v) for k, v in merged[g].items()} for g in GROUPS
        }
        return cls(
            **{g: SimpleNamespace(**v) for g, v in groups.items() if g not in ("quotas", "events")},
            quotas=dict(groups["quotas"]),
            events=dict(groups["events"]),
            version=version,
        )
