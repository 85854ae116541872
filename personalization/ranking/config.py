"""Feed parameters: every tunable of the ranking (interest, features, score, caps, composition),
with its default and bounds.

FeedConfig rows store these as nested JSON ({"weights": {...}, "quotas": {...}, ...});
admin builds its form from PARAMS, and the ranking code reads a `FeedParams`.
"""
from dataclasses import dataclass
from types import MappingProxyType

from feedproject.vocabulary import EVENT_WEIGHTS


@dataclass(frozen=True)
class Param:
    group: str
    name: str
    default: float
    low: float
    high: float
    help: str = ""
    integer: bool = False
    choices: tuple = ()  # ((value, label), ...): one of these values, shown as a choice


    @property
    def key(self):
        return f"{self.group}.{self.name}"


PARAMS = (
    # score weights: personal = the weighted "personal:" terms; final = personal + trending, rising, boosts, penalties
    Param("weights", "interest", 0.35, 0, 2, "personal: blended long-term + session interest"),
    Param("weights", "similarity", 0.25, 0, 2, "personal: overlap with recently viewed markets"),
    Param("weights", "depth", 0.15, 0, 2, "personal: mean dwell in the category / 30 s"),
    Param("weights", "freshness", 0.10, 0, 2, "personal: newness of the market"),
    Param("weights", "followup", 0.10, 0, 2, "personal: odds moved on a market the user engaged with"),
    Param("weights", "negative", 0.10, 0, 2, "personal: subtracted negative affinity"),
    Param("weights", "hits", 0.15, 0, 2, "personal: engagement rate of the market's topics against the user's own "
          "(shown and engaged vs shown and passed over), this session's showings included"),
    Param("weights", "trending", 0.40, 0, 2),
    Param("weights", "rising", 0.15, 0, 2),
    Param("weights", "editorial", 0.05, 0, 2),
    Param("weights", "news_boost", 1.0, 0, 2, "multiplier of the 0.8 / 0.5 news boost"),
    Param("weights", "sports_boost", 1.0, 0, 2, "multiplier of the 0.5 sports boost"),
    Param("weights", "cooldown", 0.15, 0, 2),
    Param("weights", "frequency", 0.10, 0, 2),
    # pool quotas of a feed (must sum to 1)
    Param("quotas", "personal", 0.50, 0, 1),
    Param("quotas", "trending_local", 0.10, 0, 1),
    Param("quotas", "trending_global", 0.15, 0, 1),
    Param("quotas", "exploration", 0.15, 0, 1),
    Param("quotas", "editorial", 0.10, 0, 1),
    # frequency caps and fatigue
    Param("caps", "cooldown_minutes", 30, 0, 1440, "do not re-show a market shown this recently", integer=True),
    Param("caps", "max_shows_24h", 3, 1, 50, "do not re-show after this many showings in 24 h", integer=True),
    Param("caps", "fatigue_shows_7d", 5, 1, 100, "showings in 7 days without a positive action", integer=True),
    Param("caps", "fatigue_days", 7, 1, 60, "how long a fatigued market stays suppressed", integer=True),
    Param("caps", "cooldown_half_life_hours", 6, 0.1, 168, "half-life of the cooldown penalty"),
    # a capped market may come back when it changed this much
    Param("reshow", "min_abs_prob_change", 0.10, 0.01, 1),
    Param("reshow", "min_abs_logit_change", 0.8, 0.05, 10),
    Param("reshow", "volume_ratio", 2.0, 1.1, 100),
    Param("reshow", "min_volume", 1000, 0, 1e9),
    Param("reshow", "max_extra_per_day", 2, 0, 20, integer=True),
    # diversity
    Param(
        "diversity", "max_per_category_top", 3, 1, 20,
        "a pool other than personal does not add a category that has this many items in the first N", integer=True,
    ),
    Param(
        "diversity", "top_n", 9, 1, 50,
        "N: the first items, held to the cap and to one market per question (one event, or titles alike but numbers)",
        integer=True,
    ),
    Param("diversity", "repeat_decay", 0.5, 0, 1,
          "k-th repeat of a category scored x(a * decay^k + floor); personal counts its own picks only"),
    Param("diversity", "repeat_scale", 0.75, 0, 1),
    Param("diversity", "repeat_floor", 0.25, 0, 1),
    Param("diversity", "duplicate_factor", 0.5, 0, 1,
          "after the first N, a market whose near-duplicate group has k items already scores x this^k"),
    Param("diversity", "intent_share", 0.7, 0, 1,
          "from a session blend beta of this share of interest.beta_max, personal leads the feed's first items"),
    Param("diversity", "intent_positions", 4, 0, 20, "the items personal leads with a clear intent: hero and first row",
          integer=True),
    Param("diversity", "max_non_personal_run", 2, 1, 10, integer=True),
    # exploration
    Param("exploration", "max_long_affinity", 0.1, 0, 1, "categories below this long-term affinity are explored"),
    Param("exploration", "trending_weight", 0.5, 0, 1),
    Param("exploration", "freshness_weight", 0.5, 0, 1),
    Param(
        "exploration", "rejection_memory_days", 14, 1, 365,
        "a hide or not_interested lowers the market's near-duplicates in every pool, and keeps exploration "
        "out of its category, this many days", integer=True,
    ),
    # blending long-term taste with session intent, and feature scales
    Param("interest", "beta_max", 0.5, 0, 1, "largest share of session intent in the blend"),
    Param("interest", "beta_k", 3.0, 0.1, 100, "session mass at which beta is half of beta_max"),
    Param("interest", "prior_mass", 5.0, 0, 100, "prior k of the affinity normalisation"),
    Param("interest", "hits_global_rate", 0.1, 0.001, 0.999, "prior engagement rate of a shown market, for everyone"),
    Param("interest", "hits_user_mass", 20, 0.1, 10000, "trials at which a user's own rate weighs as much as the "
          "global prior"),
    Param("interest", "hits_prior_mass", 10, 0.1, 10000, "trials at which a topic's rate weighs as much as the "
          "user's own (the long-term one, for the session)"),
    Param("features", "freshness_half_life_hours", 72, 1, 10000),
    Param("features", "followup_full_change", 0.20, 0.01, 1),
    Param("features", "depth_full_dwell_seconds", 30, 1, 600),
    Param("features", "local_min_users", 5, 0, 1000, "local trending needs this many users in 24 h", integer=True),
    Param("features", "local_trending_share", 0.4, 0, 1),
)

FORMULA, LEARNED = 0, 1


def _event_param(event_type, weight):
    """A value per event kind; its sign is the kind's meaning (engagement or rejection) and stays."""
    low, high = (0, 20) if weight >= 0 else (-20, 0)
    return Param(
        "events", event_type, weight, low, high,
        "added to the affinity of the market's topics; the learned ranker's value of this kind",
    )


PARAMS += (
    # which ranker orders the personal pool: the formula above, or the active learned model
    Param(
        "ranker", "model", FORMULA, 0, 1,
        "the learned model ranks the personal pool (and /api/rank) when one is active; else the formula",
        integer=True, choices=((FORMULA, "formula"), (LEARNED, "learned model (the active ranking model)")),
    ),
    # what each event kind is worth: the affinity update adds it, the learned ranker multiplies P(kind) by it
    *(_event_param(event_type, weight) for event_type, weight in EVENT_WEIGHTS.items()),
)

PARAMS_BY_KEY = MappingProxyType({p.key: p for p in PARAMS})
GROUPS = tuple(dict.fromkeys(p.group for p in PARAMS))


def default_params():
    """The defaults as the nested dict stored in FeedConfig.params."""
    nested = {group: {} for group in GROUPS}
    for p in PARAMS:
        nested[p.group][p.name] = p.default
    return nested


def validate_params(params):
    """Return a list of (key, message) for every missing, unknown or out-of-bounds value."""
    errors = []
    for p in PARAMS:
        value = params.get(p.group, {}).get(p.name)
        if value is None:
            errors.append((p.key, "is required"))
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append((p.key, "must be a number"))
        elif not p.low <= value <= p.high:
            errors.append((p.key, f"must be between {p.low:g} and {p.high:g}, got {value:g}"))
        elif p.integer and value != int(value):
            errors.append((p.key, "must be a whole number"))
        elif p.choices and value not in {v for v, _ in p.choices}:
            errors.append((p.key, f"must be one of {', '.join(f'{v} ({label})' for v, label in p.choices)}"))
    for group, values in params.items():
        for name in values if isinstance(values, dict) else ():
            if f"{group}.{name}" not in PARAMS_BY_KEY:
                errors.append((f"{group}.{name}", "is not a known parameter"))
    quotas = params.get("quotas", {})
    if all(isinstance(v, (int, float)) for v in quotas.values()):
        total = sum(quotas.values())
        if abs(total - 1.0) > 1e-6:
            errors.append(("quotas", f"must sum to 1, they sum to {total:g}"))
    return errors
