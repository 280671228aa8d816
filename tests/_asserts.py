"""The one assertion module: a dtype tolerance table and helpers over chex/numpy.testing."""

from __future__ import annotations

import chex
import jax.numpy as jnp
import numpy as np

# (rtol, atol) by dtype: float64 for theory (round-off only), float32 for kernels and NN code
# (24-bit mantissa, accumulations of ~1e3 terms), bfloat16 (8-bit mantissa).
TOL = {
    jnp.dtype("float64"): (1e-10, 1e-12),
    jnp.dtype("float32"): (2e-5, 1e-6),
    jnp.dtype("bfloat16"): (2e-2, 1e-2),
}


def tol(dtype) -> tuple[float, float]:
    return TOL[jnp.dtype(dtype)]


def assert_close(actual, expected, *, dtype=None, rtol=None, atol=None, err_msg=""):
    """allclose with the dtype's tolerances unless given; shapes must match exactly."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    chex.assert_equal_shape([actual, expected])
    d_rtol, d_atol = tol(dtype or jnp.float64)
    np.testing.assert_allclose(
        actual,
        expected,
        rtol=d_rtol if rtol is None else rtol,
        atol=d_atol if atol is None else atol,
        err_msg=err_msg,
    )


def assert_within_se(estimate, target, se, *, k: float = 4.0, what: str = ""):
    """|estimate - target| <= k standard errors (k = 4: a false alarm rate ~6e-5 per check)."""
    assert abs(estimate - target) <= k * se, (
        f"{what}: {estimate:.6g} vs {target:.6g}, {abs(estimate - target) / se:.2f} SE (> {k})"
    )
