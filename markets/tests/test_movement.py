import math

import pytest

from markets.movement import movement_badge


@pytest.mark.parametrize(("change", "badge"), [
    (0.12, "▲ 12 pts today"),
    (-0.07, "▼ 7 pts today"),
    (0.05, "▲ 5 pts today"),
    (-0.05, "▼ 5 pts today"),
    (0.0499, None),
    (-0.0499, None),
    (0.0, None),
    (0.996 - 0.004, "▲ 99 pts today"),
    (math.nan, None),
    (None, None),
])
def test_a_badge_shows_from_five_points_in_either_direction(change, badge):
    assert movement_badge(change) == badge
