"""Shared kernel-test harness: shapes, dtypes and implementations every kernel test sweeps.

A kernel test parametrises over `SHAPES x DTYPES x IMPLEMENTATIONS`, computes the expected value
from an independent formula in NumPy float64, and compares with `tests._asserts.TOL[dtype]`
scaled by the kernel's own error model. On CPU "pallas" runs interpreted; the `gpu`-marked
variants compile (pytest -m gpu on a machine with a GPU).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

# (M, K, N): tiny, not a multiple of the 32-blocks, exactly blocked, wider than one block.
SHAPES = [(1, 1, 1), (5, 7, 3), (32, 32, 32), (40, 70, 33)]
DTYPES = [jnp.float32, jnp.bfloat16]
IMPLEMENTATIONS = ["reference", "pallas"]

gpu = pytest.mark.gpu
needs_gpu = pytest.mark.skipif(jax.default_backend() != "gpu", reason="needs a GPU backend")


def random_log_inputs(key, shape_a, shape_b, dtype, *, scale: float = 3.0, neg_inf_frac=0.1):
    """Log-probability-like inputs with a fraction of -inf (log 0) entries."""
    ka, kb, kma, kmb = jax.random.split(key, 4)
    a = scale * jax.random.normal(ka, shape_a, jnp.float32)
    b = scale * jax.random.normal(kb, shape_b, jnp.float32)
    a = jnp.where(jax.random.uniform(kma, shape_a) < neg_inf_frac, -jnp.inf, a)
    b = jnp.where(jax.random.uniform(kmb, shape_b) < neg_inf_frac, -jnp.inf, b)
    return a.astype(dtype), b.astype(dtype)
