"""kernels/token_nll.py: reference and fused Pallas kernel vs a NumPy float64 log-softmax."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernels import token_nll as TN
from tests._asserts import TOL, sampled_grid
from tests.kernels.harness import DTYPES, IMPLEMENTATIONS, gpu, needs_gpu

PAPER = "orhan2023_fewshot"  # the paper this module's time is charged to (conftest)

# (N, D, V): one row, blocks not dividing any size, exactly one block, several vocab chunks.
SHAPES = [(1, 3, 5), (7, 20, 130), (32, 16, 128), (45, 24, 300)]


def _inputs(key, n, d, v, dtype):
    kh, kw, kt = jax.random.split(key, 3)
    h = jax.random.normal(kh, (n, d), jnp.float32)
    w = jax.random.normal(kw, (v, d), jnp.float32) / np.sqrt(d) * 3.0
    t = jax.random.randint(kt, (n,), 0, v)
    return h.astype(dtype), w.astype(dtype), t


def _expected(h, w, t):
    # Independent formula in float64: log-softmax by np.logaddexp.reduce, then the target's entry.
    h64 = np.asarray(h.astype(jnp.float32), np.float64)
    w64 = np.asarray(w.astype(jnp.float32), np.float64)
    logits = h64 @ w64.T
    return np.logaddexp.reduce(logits, axis=1) - logits[np.arange(len(t)), np.asarray(t)]


# shapes x dtypes x implementations = 16 cases; the fast suite runs a deterministic 8
@pytest.mark.parametrize(
    "shape,dtype,implementation",
    sampled_grid(list(itertools.product(SHAPES, DTYPES, IMPLEMENTATIONS)), 8),
)
def test_token_nll_matches_float64(shape, dtype, implementation, key):
    h, w, t = _inputs(key, *shape, dtype)
    got = np.asarray(TN.token_nll(h, w, t, implementation=implementation), np.float64)
    # Inputs are exact in float32 after the cast; products accumulate in float32 over D <= 24
    # terms of size <= ~10 (|logit| <= ~30), so each logit is off by <= D * 30 * 2^-24 ~ 5e-5
    # absolute for every dtype (bfloat16 only rounds the inputs, which _expected sees too); the
    # logsumexp and the pick add a few ulp of ~30. atol 1e-4 covers both; rtol is the dtype's.
    np.testing.assert_allclose(
        got, _expected(h, w, t), rtol=TOL[jnp.dtype(jnp.float32)][0], atol=1e-4
    )
    assert (got >= -1e-4).all()  # a NLL is >= 0 (up to the same rounding)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="shapes disagree"):
        TN.token_nll_reference(jnp.zeros((2, 3)), jnp.zeros((5, 4)), jnp.zeros((2,), jnp.int32))
    with pytest.raises(ValueError, match="powers of two >= 16"):
        TN.token_nll_pallas(jnp.zeros((2, 3)), jnp.zeros((5, 3)), jnp.zeros((2,), jnp.int32),
                            block_v=100, interpret=True)  # fmt: skip
    with pytest.raises(ValueError, match="needs h"):
        TN.token_nll_pallas(jnp.zeros((3,)), jnp.zeros((5, 3)), jnp.zeros((2,), jnp.int32))


@gpu
@needs_gpu
@pytest.mark.parametrize("shape", [(4096, 256, 4096), (1000, 192, 2500)])
def test_compiled_kernel_on_gpu(shape, key):
    h, w, t = _inputs(key, *shape, jnp.float32)
    got = np.asarray(TN.token_nll_pallas(h, w, t, interpret=False), np.float64)
    # D = 256 float32 products of size <= ~10: <= 256 * 10 * 2^-24 ~ 2e-4 absolute per logit.
    np.testing.assert_allclose(got, _expected(h, w, t), rtol=2e-5, atol=5e-4)


# (N, V, D): blocks dividing none, the smoke and quick sizes of bench_token_nll, a wide vocabulary
# over few rows (the padded table dominates) and many rows over a small vocabulary
HELD_SIZES = [(45, 300, 24), (256, 1024, 16), (2048, 2048, 32), (32, 8192, 256), (4096, 128, 16)]


@pytest.mark.parametrize("n,v,d", HELD_SIZES)
def test_held_bytes_bound_covers_the_interpreted_program(n, v, d):
    """XLA's memory analysis of the interpreted kernel stays within `held_bytes_bound`, and where
    4 N V exceeds the bound the reference (which holds the logits) does not: the bound is what
    bench_token_nll's `pallas_never_holds_the_logits` check compares with."""
    from runtime import memory

    args = (jnp.ones((n, d)), jnp.ones((v, d)), jnp.zeros((n,), jnp.int32))
    bound = TN.held_bytes_bound(n, v, d, interpret=True)
    kernel = memory.compiled_bytes(lambda *a: TN.token_nll_pallas(*a, interpret=True), *args)
    assert kernel["temp"] <= bound
    if 4 * n * v > bound:
        assert memory.compiled_bytes(TN.token_nll_reference, *args)["temp"] > bound


def test_padded_shape_is_the_kernel_s():
    assert TN.padded_shape(45, 300, 24, block_n=32, block_v=128, interpret=True) == (64, 384, 32)
    assert TN.padded_shape(45, 300, 24, block_n=32, block_v=128, interpret=False) == (64, 512, 32)
