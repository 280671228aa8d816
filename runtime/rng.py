"""Named random streams: one key per (seed, stream, sub-stream, ...) so that every part of an
experiment draws independently of how many draws the other parts make.

An experiment names its streams as module constants (`STREAM_DATA = 2`) and asks for
`rng.key(cfg.seed, STREAM_DATA, i)`; that is `jax.random.key(seed)` folded with each id in turn,
so `fold(rng.key(seed, a), b) == rng.key(seed, a, b)`.
"""

from __future__ import annotations

import jax


def key(seed: int, *streams: int):
    """jax.random.key(seed) folded with each stream id in turn."""
    return fold(jax.random.key(seed), *streams)


def fold(k, *streams: int):
    """An existing key folded with each stream id in turn (sub-streams of a stream)."""
    for s in streams:
        k = jax.random.fold_in(k, s)
    return k
