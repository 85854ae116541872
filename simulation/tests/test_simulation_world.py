"""The simulated world is the same for a seed, and users react to what the feed shows, not how it ranks."""
import random

from simulation.world import DAY, SimMarket, SimUser, UserMemory, World

START = 1_800_000_000.0 - 1_800_000_000.0 % 3600


def markets(n=60):
    categories = ("Sports", "Politics", "Crypto")
    tags = (("nba", "NBA"), ("nfl", "NFL"), ("us-elections", "US Elections"), ("bitcoin", "Bitcoin"))
    return [
        SimMarket(market_id=f"m{i}", title=f"Market {i}", category=categories[i % 3],
                  tags=(tags[i % 4], tags[(i + 1) % 4]), probability=0.3 + 0.4 * (i % 5) / 4,
                  volume_24h=1000.0 * (1 + i % 7), volume_total=50_000.0,
                  created_at=START - DAY, resolution_at=START + 2 * DAY if i % 10 == 0 else START + 30 * DAY)
        for i in range(n)
    ]


def world(seed=3, users=30):
    return World(markets=markets(), users=users, days=3, seed=seed, start=START)


def test_a_seed_gives_the_same_users_sessions_and_moves():
    a, b = world(), world()
    assert a.users == b.users
    assert a.sessions == b.sessions
    assert a.moves == b.moves
    assert a.sessions and a.moves


def test_another_seed_gives_another_world():
    a, b = world(3), world(4)
    assert a.users != b.users and a.moves != b.moves


def test_markets_move_on_the_half_hour_and_resolve_once():
    w = world()
    assert all((mv.at - START) % 1800 == 0 for mv in w.moves)
    resolved = [mv for mv in w.moves if mv.status == "resolved"]
    assert {mv.market for mv in resolved} == {i for i in range(60) if i % 10 == 0}
    for mv in resolved:
        assert not w.is_open(mv.market, mv.at) and w.is_open(mv.market, mv.at - 1)


def test_sessions_start_inside_the_horizon_and_apart():
    w = world()
    for user in range(len(w.users)):
        starts = [p.start for p in w.sessions if p.user == user]
        assert all(START <= s < START + 3 * DAY for s in starts)
        assert all(b - a >= 45 * 60 for a, b in zip(starts, starts[1:], strict=False))


def test_a_reaction_is_reproducible_from_its_generator():
    w = world()
    plan = w.sessions[0]
    items = list(range(20))
    first = w.feed_react(user_index=plan.user, plan=plan, items=items, t=plan.start, feed=0, memory=UserMemory(),
                         rng=random.Random(1))
    again = w.feed_react(user_index=plan.user, plan=plan, items=items, t=plan.start, feed=0, memory=UserMemory(),
                         rng=random.Random(1))
    assert first == again
    assert [m for m, _, _ in first.shown] == items[: len(first.shown)]  # rendered from the top, in order
    assert len(first.shown) >= 4


def _click_rate(w, user, items, memory_factory, draws=400):
    plan = next(p for p in w.sessions if p.user == user)
    clicks = shown = 0
    for k in range(draws):
        reaction = w.feed_react(user_index=user, plan=plan, items=items, t=plan.start, feed=k, memory=memory_factory(),
                                rng=random.Random(k))
        shown += len(reaction.shown)
        clicks += len(reaction.clicked)
    return clicks / shown


def test_users_click_what_they_like_more_than_what_they_do_not():
    w = world(users=5)
    taste = w.taste(0)
    liked = sorted(range(60), key=lambda m: -taste[m])[:6]
    disliked = sorted(range(60), key=lambda m: taste[m])[:6]
    assert _click_rate(w, 0, liked, UserMemory) > _click_rate(w, 0, disliked, UserMemory)


def test_markets_shown_again_and_again_without_change_lose_clicks():
    w = world(users=5)
    taste = w.taste(0)
    liked = sorted(range(60), key=lambda m: -taste[m])[:6]
    plan = next(p for p in w.sessions if p.user == 0)

    def tired():
        memory = UserMemory()
        for m in liked:
            p, _, _ = w.state_at(m, plan.start)
            memory.shows[m] = [(plan.start - h * 3600, p) for h in (1, 2, 3)]
        return memory

    assert _click_rate(w, 0, liked, tired) < 0.6 * _click_rate(w, 0, liked, UserMemory)


def test_users_have_a_country_and_tastes():
    w = world()
    assert all(isinstance(u, SimUser) and u.country and u.tag_taste for u in w.users)
    assert all(max(u.category_taste.values()) == 1.0 for u in w.users)
