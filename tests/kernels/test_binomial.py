"""kernels.binomial equals jax.random.binomial draw for draw (bit for bit)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernels import binomial as B

PAPER = "wang2023_streaming_bandits"  # its only user (theory/streaming_bandits_sim.py)

pytestmark = pytest.mark.usefixtures("x64")


def _inputs(N):
    keys = jax.random.split(jax.random.key(0), N)
    p = jax.random.uniform(jax.random.key(1), (N,), jnp.float64, 0.001, 0.999)
    n = jnp.floor(10 ** jax.random.uniform(jax.random.key(2), (N,), jnp.float64, 0.0, 15.0))
    # every branch of jax.random.binomial: inversion (n p <= 10), p at 0, 1 and 1/2, n at 0,
    # inf, nan, negative, and BTRS at n up to 1e15 with p on both sides of 1/2
    n = n.at[:8].set(jnp.array([0.0, 3.0, 5.0, jnp.inf, jnp.nan, -1.0, 1e15, 20.0]))
    p = p.at[8:13].set(jnp.array([0.0, 1.0, 0.5, 1e-9, 1.0 - 1e-9]))
    return keys, n, p


# buffer 7: the pending draws overflow it, the compacted loop takes several passes
@pytest.mark.parametrize("buffer", [None, 7])
def test_equals_jax_random_binomial_bit_for_bit(buffer):
    keys, n, p = _inputs(4096)
    want = np.asarray(jax.jit(B.binomial_reference)(keys, n, p))
    got = np.asarray(jax.jit(lambda k, a, b: B.binomial(k, a, b, buffer=buffer))(keys, n, p))
    same = (want == got) | (np.isnan(want) & np.isnan(got))
    assert same.all(), f"{(~same).sum()} of {same.size} draws differ"
    assert np.isnan(got[4]) and np.isinf(got[3]) and got[0] == 0


def test_under_vmap_as_the_bandit_simulator_calls_it():
    keys, n, p = _inputs(2048)
    shape = (4, 512)
    k2, n2, p2 = (x.reshape(shape) for x in (keys, jnp.abs(n) + 1e4, p))
    want = jax.jit(jax.vmap(B.binomial_reference))(k2, n2, p2)
    got = jax.jit(jax.vmap(B.binomial))(k2, n2, p2)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
