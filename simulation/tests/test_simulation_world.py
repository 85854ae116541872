"""The simulated world is the same for a seed, and users react to what the feed shows, not how it ranks."""
import dataclasses
import random

import pytest

from simulation.world import (
    DAY,
    USER_MODELS,
    SimMarket,
    SimUser,
    UserMemory,
    UserModel,
    World,
    click_logit,
    staleness,
)

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


def _fingerprint(w):
    """Sessions, intents, landings, favourite counts and clicks of 200 reactions with fixed draws."""
    clicks = shown = 0
    for k, plan in enumerate(w.sessions[:200]):
        reaction = w.feed_react(user_index=plan.user, plan=plan, items=list(range(k % 40, k % 40 + 20)),
                                t=plan.start, feed=k, memory=UserMemory(), rng=random.Random(k))
        shown += len(reaction.shown)
        clicks += len(reaction.clicked)
    return {
        "sessions": len(w.sessions), "intents": sum(1 for p in w.sessions if p.intent),
        "landings": sum(1 for p in w.sessions if p.landing >= 0),
        "favourites": [sum(1 for v in u.category_taste.values() if v > 0.05) for u in w.users],
        "shown": shown, "clicks": clicks, "taste_sum": round(float(w.taste(0).sum()), 6),
    }


def test_the_default_user_model_is_the_world_of_before_the_user_models():
    # The numbers the world gave before its constants became UserModel (commit f3b1b45): same seed, same world.
    default = World(markets=markets(), users=30, days=3, seed=3, start=START).model
    assert default == UserModel() == USER_MODELS["default"]
    assert _fingerprint(world()) == {
        "sessions": 85, "intents": 39, "landings": 28,
        "favourites": [2, 3, 3, 2, 1, 2, 1, 1, 2, 1, 2, 3, 2, 3, 2, 3, 3, 2, 2, 3, 2, 3, 2, 3, 2, 3, 3, 2, 1, 1],
        "shown": 814, "clicks": 134, "taste_sum": 42.4635,
    }


def test_the_alternative_user_model_draws_other_users_and_behaves_otherwise():
    alt = USER_MODELS["alt"]
    default_world = world(users=200)
    alt_world = World(markets=markets(), users=200, days=3, seed=3, start=START, user_model=alt)
    assert alt_world.moves == default_world.moves  # the markets are the same; the users are not
    favourites = [sum(1 for v in u.category_taste.values() if v > alt.other_taste) for u in alt_world.users]
    assert max(favourites) <= max(alt.favourite_counts) < 3
    intent_share = lambda w: sum(1 for p in w.sessions if p.intent) / len(w.sessions)  # noqa: E731
    assert intent_share(alt_world) < intent_share(default_world) - 0.08  # 30% against 45% of sessions

    # Stronger position bias: the same user sees a liked market at position 15 clicked less often.
    def deep_click_rate(w):
        taste = w.taste(0)
        liked = max(range(60), key=lambda m: taste[m])
        items = [m for m in range(60) if m != liked][:15] + [liked]
        plan = next(p for p in w.sessions if p.user == 0)
        hits = sum(liked in w.feed_react(user_index=0, plan=plan, items=items, t=plan.start, feed=k,
                                         memory=UserMemory(), rng=random.Random(k)).clicked
                   for k in range(600))
        return hits / 600

    same_user = World(markets=markets(), users=5, days=3, seed=3, start=START,
                      user_model=dataclasses.replace(USER_MODELS["default"], position_decay=alt.position_decay))
    assert deep_click_rate(same_user) < 0.75 * deep_click_rate(world(users=5))


def test_the_alternative_click_curve_is_steeper_in_taste():
    default, alt = USER_MODELS["default"], USER_MODELS["alt"]
    terms = dict(bias=0.0, popularity=0.0, buzz=0.0, intent=0, followup=0, seen=0, stale_24=0, stale_7=0,
                 disliked=0, hidden=False)
    gap = lambda model: click_logit(model, taste=1.0, **terms) - click_logit(model, taste=0.3, **terms)  # noqa: E731
    assert gap(alt) > gap(default) + 1.0


def test_the_oracles_click_chances_are_the_ones_the_world_draws_clicks_from():
    w = world(users=5)
    plan = next(p for p in w.sessions if p.user == 1 and p.intent)
    at = plan.start
    memory = UserMemory()
    p5, _, _ = w.state_at(5, at)
    memory.shows = {5: [(at - 3600, p5), (at - 2 * DAY, p5)], 6: [(at - 60, 0.0)]}
    memory.clicked = {5: p5, 7: w.state_at(7, at)[0] - 0.2}
    memory.hidden = {8}
    every = w.click_logits(user_index=1, plan=plan, at=at, memory=memory)
    for m in range(60):
        from_memory = staleness(memory.shows.get(m, []), at, w.state_at(m, at)[0], w.model.stale_move)
        assert every[m] == pytest.approx(w.click_logit(user_index=1, plan=plan, market=m, at=at, memory=memory,
                                                       stale=from_memory), abs=1e-9)
    assert every[8] == -10.0  # hidden
    assert every[5] < w.click_logit(user_index=1, plan=plan, market=5, at=at, memory=UserMemory(), stale=(0, 0))
    intent_market = next(m for m in range(60) if plan.intent in w.tag_sets[m] and m not in memory.clicked)
    no_intent = dataclasses.replace(plan, intent="")
    assert every[intent_market] == pytest.approx(
        w.click_logits(user_index=1, plan=no_intent, at=at, memory=memory)[intent_market] + w.model.intent_weight)
