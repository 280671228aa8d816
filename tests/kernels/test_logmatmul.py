"""kernels/logmatmul.py: reference and Pallas kernel vs NumPy float64 logsumexp."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads

from kernels import logmatmul as LM
from kernels._dispatch import resolve
from tests._asserts import TOL, sampled_grid
from tests.kernels.harness import DTYPES, IMPLEMENTATIONS, SHAPES, gpu, needs_gpu, random_log_inputs

PAPER = "liu2022_pc_compression"  # the paper this module's time is charged to (conftest)


def _expected(a, b):
    # Independent formula: float64 logsumexp over k of a[i, k] + b[k, j] (np.logaddexp.reduce).
    a64 = np.asarray(a.astype(jnp.float32), np.float64)
    b64 = np.asarray(b.astype(jnp.float32), np.float64)
    with np.errstate(invalid="ignore"):
        return np.logaddexp.reduce(a64[:, :, None] + b64[None, :, :], axis=1)


def _check(out, a, b, dtype):
    # Output is rounded to `dtype` once; float32 accumulation adds ~K ulp relative in the sum,
    # i.e. ~K * 2^-24 absolute in log space, covered by atol below for K <= 70.
    rtol, atol = TOL[jnp.dtype(dtype)]
    exp = _expected(a, b)
    got = np.asarray(out.astype(jnp.float32), np.float64)
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(exp))
    finite = np.isfinite(exp)
    np.testing.assert_allclose(got[finite], exp[finite], rtol=rtol, atol=max(atol, 1e-5))


# shapes x dtypes x implementations = 16 cases; the fast suite runs a deterministic 8
@pytest.mark.parametrize(
    "shape,dtype,implementation",
    sampled_grid(list(itertools.product(SHAPES, DTYPES, IMPLEMENTATIONS)), 8),
)
def test_logmatmul_matches_float64(shape, dtype, implementation, key):
    M, K, N = shape
    a, b = random_log_inputs(key, (M, K), (K, N), dtype)
    _check(LM.logmatmul(a, b, implementation=implementation), a, b, dtype)


def test_all_neg_inf_rows_give_neg_inf(key):
    a, b = random_log_inputs(key, (4, 6), (6, 5), jnp.float32, neg_inf_frac=0.0)
    a = a.at[1].set(-jnp.inf)
    for impl in IMPLEMENTATIONS:
        out = np.asarray(LM.logmatmul(a, b, implementation=impl))
        assert np.all(np.isneginf(out[1])) and np.all(np.isfinite(np.delete(out, 1, axis=0)))


def test_large_magnitudes_do_not_overflow(key):
    # exp(800) overflows float32; the shifted form must not.
    a, b = random_log_inputs(key, (8, 9), (9, 7), jnp.float32, neg_inf_frac=0.0)
    for impl in IMPLEMENTATIONS:
        _check(
            LM.logmatmul(a + 800.0, b - 300.0, implementation=impl),
            a + 800.0,
            b - 300.0,
            jnp.float32,
        )


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_vjp_matches_reference(implementation, key):
    a, b = random_log_inputs(key, (5, 7), (7, 3), jnp.float32, neg_inf_frac=0.0)
    f = lambda a, b: jnp.sum(jnp.sin(LM.logmatmul(a, b, implementation=implementation)))
    g_ref = jax.grad(lambda a, b: jnp.sum(jnp.sin(LM.logmatmul_reference(a, b))), (0, 1))(a, b)
    g = jax.grad(f, (0, 1))(a, b)
    for x, y in zip(g, g_ref, strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)


def test_reference_vjp_matches_finite_differences(key):
    """Once, on the jitted reference (every implementation's VJP is compared with it above);
    eager check_grads in x64 re-dispatched every op (~35 s per implementation)."""
    a, b = random_log_inputs(key, (5, 7), (7, 3), jnp.float32, neg_inf_frac=0.0)
    with jax.enable_x64(True):
        a64, b64 = a.astype(jnp.float64), b.astype(jnp.float64)
        check_grads(jax.jit(LM.logmatmul_reference), (a64, b64), order=1, modes=("rev",))


def test_dispatcher_defaults_and_errors():
    assert resolve(None).implementation == (
        "reference" if jax.default_backend() == "cpu" else "pallas"
    )
    assert resolve("pallas").interpret == (jax.default_backend() == "cpu")
    with pytest.raises(ValueError, match="implementation must be one of"):
        resolve("triton")
    with pytest.raises(ValueError, match="inner dimensions differ"):
        LM.logmatmul_pallas(jnp.zeros((2, 3)), jnp.zeros((4, 2)), interpret=True)


@gpu
@needs_gpu
@pytest.mark.parametrize("shape", [(256, 512, 128), (300, 1000, 70)])
def test_compiled_kernel_on_gpu(shape, key):
    M, K, N = shape
    a, b = random_log_inputs(key, (M, K), (K, N), jnp.float32)
    _check(LM.logmatmul_pallas(a, b, interpret=False), a, b, jnp.float32)


@given(
    shape=st.sampled_from(SHAPES),
    shift=st.floats(-50.0, 50.0),
    seed=st.integers(0, 2**16),
)
def test_reference_is_shift_equivariant(shape, shift, seed):
    # log sum_k exp(a_ik + c + b_kj) = c + log sum_k exp(a_ik + b_kj): a property of the spec that
    # any implementation must keep; shapes come from the harness's fixed set (one compile each).
    M, K, N = shape
    a, b = random_log_inputs(jax.random.key(seed), (M, K), (K, N), jnp.float32)
    base = np.asarray(LM.logmatmul_reference(a, b), np.float64)
    shifted = np.asarray(LM.logmatmul_reference(a + shift, b), np.float64)
    finite = np.isfinite(base)
    np.testing.assert_array_equal(np.isfinite(shifted), finite)
    # float32 rounding of a + shift (|a + shift| <= ~65) costs <= 65 * 2^-24 ~ 4e-6 per term.
    np.testing.assert_allclose(shifted[finite], base[finite] + shift, rtol=0, atol=2e-5)
