"""Named random streams: one key per (seed, stream, sub-stream, ...) so that every part of an
experiment draws independently of how many draws the other parts make."""

from __future__ import annotations

import jax


def key(seed: int, *streams: int):
    """jax.random.key(seed) folded with each stream id in turn."""
    k = jax.random.key(seed)
    for s in streams:
        k = jax.random.fold_in(k, s)
    return k
