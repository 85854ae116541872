"""The words every layer shares: surfaces, feed sections, event types and their weights, categories.

Plain Python with no Django import, so the ranking library can use it as well as the models,
the validators and the admin. Each word has one home: a new surface, section, event type or
category is added here and nowhere else.
"""
from enum import StrEnum


def choices(words):
    """Django `choices` for a StrEnum: ("market_related", "Market Related")."""
    return [(word.value, word.name.replace("_", " ").title()) for word in words]


class Surface(StrEnum):
    """Where a feed is shown; each has its own FeedConfig."""

    HOME = "home"
    CATEGORY = "category"
    MARKET_RELATED = "market_related"


class Section(StrEnum):
    """The parts of a feed page, by position: one hero, a grid of nine, then the stream."""

    HERO = "hero"
    GRID = "grid"
    STREAM = "stream"


GRID_END = 10  # positions 1-9 are the grid, 10 and later the stream


def section_of(position):
    if position == 0:
        return Section.HERO
    return Section.GRID if position < GRID_END else Section.STREAM


# What a user can do with a market, and how much it says about their taste: the signed weight
# an event adds to the affinity of the market's category and tags. Positive weights are
# engagement (they count in trending); negative ones are the user turning a market down.
EVENT_WEIGHTS = {
    "participate": 6.0,
    "participate_intent": 3.0,
    "share": 4.0,
    "comment": 4.5,
    "bookmark": 3.5,
    "click": 2.0,
    "view_market": 2.0,
    "return_visit": 3.0,
    "dwell_30+": 2.0,
    "dwell_5+": 1.0,
    "scroll_past": -0.5,
    "skip_fast": -1.0,
    "hide": -6.0,
    "not_interested": -4.0,
    "unhide": 0.0,
}
EVENT_TYPES = frozenset(EVENT_WEIGHTS)
ENGAGEMENTS = frozenset(name for name, weight in EVENT_WEIGHTS.items() if weight > 0)
# The user saying "not this": the feed also lowers the market's near-duplicates, and exploration
# leaves the market's category alone for a while (docs/ranking.md).
REJECTIONS = frozenset({"hide", "not_interested"})

# The site's category taxonomy. Importers map every platform's categories onto it (markets/
# importers.py), the demo generates markets in it, benchmarks draw from it.
OTHER = "Other"
CATEGORIES = ("Sports", "Politics", "World", "Crypto", "Business", "Culture", "Science & Tech", "Weather", OTHER)
