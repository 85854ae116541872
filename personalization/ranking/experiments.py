"""Experiment arithmetic: which arm a user is in, and team-draft interleaving of two rankings. Pure."""
import hashlib


def arm_assign(salt, user_key, shares):
    """The index of the user's arm: a hash of (salt, user_key) mapped to [0, 1) and cut by the
    normalised `shares`. The same on every request; another salt gives an independent draw."""
    digest = hashlib.blake2b(f"{salt}|{user_key}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    total = float(sum(shares))
    edge = 0.0
    for k, share in enumerate(shares):
        edge += share / total
        if u < edge:
            return k
    return len(shares) - 1  # u within rounding of 1


def team_draft(rankings, *, limit, rng, groups=None, top_n=0):
    """Team-draft interleaving of two rankings (lists of catalog indices, best first) into one feed.

    Each round a coin decides which arm picks first; each arm then adds its best item not yet in
    the feed, credited to it. Returns [(catalog index, arm 0 or 1)]. With `groups`, an item
    whose near-duplicate group is already among the first `top_n` is skipped there (each arm's
    own ranking keeps that rule; the merge must not break it by taking one from each).
    """
    pointers, picks, used, placed_groups = [0, 0], [], set(), set()

    def next_of(arm, hold):
        ranking = rankings[arm]
        while pointers[arm] < len(ranking) and int(ranking[pointers[arm]]) in used:
            pointers[arm] += 1  # what is taken is behind the pointer; a held item stays ahead of it
        for j in range(pointers[arm], len(ranking)):
            i = int(ranking[j])
            held = hold and groups is not None and len(picks) < top_n and int(groups[i]) in placed_groups
            if i not in used and not held:
                return i
        return None

    def draft_round(hold):
        progressed = False
        for arm in (0, 1) if rng.random() < 0.5 else (1, 0):
            if len(picks) >= limit:
                break
            i = next_of(arm, hold)
            if i is None:
                continue
            used.add(i)
            if groups is not None and len(picks) < top_n:
                placed_groups.add(int(groups[i]))
            picks.append((i, arm))
            progressed = True
        return progressed

    # When both arms have only held items left, the rule is relaxed for a round, as the composer does.
    while len(picks) < limit and (draft_round(hold=True) or draft_round(hold=False)):
        pass
    return picks
