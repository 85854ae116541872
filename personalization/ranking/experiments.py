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
