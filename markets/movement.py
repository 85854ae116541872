"""How a market's odds moved, as a card shows it: the badge text of a 24 h move. Pure, no Django.

A move shows from `BADGE_MIN_CHANGE` (5 probability points) in 24 h: below that, a card
would flicker with badges for the noise of a thin market. The text is for people; clients
that want to style the move read `odds_change_24h` (signed, in probability units).
"""
import math

BADGE_MIN_CHANGE = 0.05


def movement_badge(odds_change_24h):
    """"▲ 12 pts today" / "▼ 7 pts today" for a move of at least 5 points, else None."""
    if odds_change_24h is None or not math.isfinite(odds_change_24h) or abs(odds_change_24h) < BADGE_MIN_CHANGE:
        return None
    arrow = "▲" if odds_change_24h > 0 else "▼"
    return f"{arrow} {round(abs(odds_change_24h) * 100)} pts today"
