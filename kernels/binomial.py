"""Many exact Binomial(n, p) draws at once, one key per draw, equal bit for bit to
`jax.vmap(jax.random.binomial)(keys, n, p)` and several times faster on wide arrays.

Why it is faster. `jax.random.binomial` draws by BTRS (Hormann's transformed rejection) in a while
loop. Vectorised over N draws that loop runs until the last of the N accepts: ~5% of draws reject
per round, so at N = 10^6 it runs ~6 rounds of full width where one would do for 95% of lanes
(measured: 2.4 us per draw at N = 1.28 10^6 on this CPU, float64). Here round 1 runs at full width,
and only the draws it did not accept (their indices compacted into a buffer of fixed size) go on
through the rest of the loop, so the rounds after the first cost ~5% of a full one.

Why it is the same number. A draw's result is its first accepted proposal in its own key chain
(key -> split(key, 3)[0] -> ...; under vmap each lane stops at its own acceptance), so a draw
that round 1 did not accept has the result of the same loop started from its second key. Both
parts call jax's own BTRS and inversion routines (private functions of jax 0.10.x, pinned in
uv.lock), the branch and edge-case selection replicates `jax.random.binomial`'s, and a test
compares with `jax.random.binomial` on draws that reach every branch. If those routines are
missing (another jax), `binomial` says so once and uses the reference, never a different sampler.

Where a draw uses inversion (n p <= 10 or p = 0, 1: not in the bandit simulations, whose batches
are >= 1/eps^2 pulls at means inside (0, 1)), it is computed with jax's inversion for all lanes.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

try:  # jax's own routines (jax/_src/random/core.py); the reference below is the public API
    from jax._src.random.core import _binomial_inversion, _btrs

    _HAVE_INTERNALS = True
except ImportError:  # pragma: no cover - another jax version
    _HAVE_INTERNALS = False


def binomial_reference(keys, n, p):
    """`jax.random.binomial` per draw (one key each): the definition this module matches."""
    return jax.vmap(jax.random.binomial)(keys, n, p)


def binomial(keys, n, p, *, buffer: int | None = None):
    """Draws of Binomial(n[i], p[i]) with keys[i], shape (N,), float64; see the module docstring.

    buffer: how many draws round 1 may leave pending per pass of the compacted loop (default
    N / 8 + 16; ~N / 20 are pending after round 1, and the loop repeats if more are)."""
    if not _HAVE_INTERNALS:  # pragma: no cover
        warnings.warn(
            "kernels.binomial: jax internals missing, using jax.random.binomial", stacklevel=2
        )
        return binomial_reference(keys, n, p)
    (N,) = keys.shape
    dtype = jnp.result_type(p)
    p = jnp.asarray(p, dtype)
    n = jnp.asarray(n, dtype)
    M = min(N, buffer if buffer is not None else N // 8 + 16)
    max_iters = dtype.type(np.finfo(dtype).max)
    # jax.random.binomial's branch selection (jax/_src/random/core.py, _binomial), unchanged
    p_lt_half = p < 0.5
    q = lax.select(p_lt_half, p, 1.0 - p)
    count_nan_or_neg = jnp.isnan(n) | (n < 0.0)
    count_inf = jnp.isinf(n)
    q_is_nan = jnp.isnan(q)
    q_l_0 = q < 0.0
    q = lax.select(q_is_nan | q_l_0, jnp.full_like(q, 0.01), q)
    use_inversion = count_nan_or_neg | (n * q <= 10.0)
    count = jnp.floor(n)
    count_inv = lax.select(use_inversion, count, jnp.zeros_like(count))
    count_btrs = lax.select(use_inversion, jnp.full_like(count, 1e4), count)
    q_btrs = lax.select(use_inversion, jnp.full_like(q, 0.5), q)

    def btrs(iters):
        return jax.vmap(lambda k, c, pr: _btrs(k, c, pr, (), dtype, iters))

    # round 1 at full width: a proposal accepted there is the draw
    first = btrs(dtype.type(1))(keys, count_btrs, q_btrs)
    pending = first < 0  # BTRS's "not yet accepted" (k_out starts at -1; accepted k >= 0)

    def more(state):
        return jnp.any(state[1])

    def rest(state):
        out, pend = state
        # the first M pending draws; the unused slots point past the end (index N), read a
        # clamped copy and are dropped on the way back, so no index is written twice
        (idx,) = jnp.nonzero(pend, size=M, fill_value=N)
        second = jax.vmap(lambda k: jax.random.split(k, 3)[0])(keys[idx])  # the chain's next key
        k = btrs(max_iters)(second, count_btrs[idx], q_btrs[idx])
        out = out.at[idx].set(k, mode="drop")
        pend = pend.at[idx].set(False, mode="drop")
        return out, pend

    btrs_out, _ = lax.while_loop(more, rest, (first, pending))
    inv = lax.cond(
        jnp.any(use_inversion),
        lambda: jax.vmap(lambda k, c, pr: _binomial_inversion(k, c, pr, (), dtype, max_iters))(
            keys, count_inv, q
        ),
        lambda: jnp.zeros_like(q),
    )
    samples = lax.select(use_inversion, inv, btrs_out)
    invalid = q_l_0 | q_is_nan | count_nan_or_neg
    samples = lax.select(invalid, jnp.full_like(samples, jnp.nan), samples)
    samples = lax.select(count_inf & ~invalid, jnp.full_like(samples, jnp.inf), samples)
    return lax.select(p_lt_half | count_nan_or_neg | q_is_nan | count_inf, samples, count - samples)
