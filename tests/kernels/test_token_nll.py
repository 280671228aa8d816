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
