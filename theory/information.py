"""Discrete information measures in bits, with 0 log 0 = 0, and the checks their inputs need.

Everything works on the last axis (entropy) or the last two axes (couplings), so it vmaps and
broadcasts; call under `jax.enable_x64(True)` for float64 (the MEC-B code does). Input checks are
NumPy and raise ValueError with one line: they run once, on user data, before any work.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

# A probability vector must sum to 1 within this (float64 sums of n <= 10^6 entries carry
# ~n * 1.1e-16 round-off; 1e-9 leaves room for inputs written with 9-10 significant digits).
SUM_TOL = 1e-9


def xlog2x(p):
    """p log2 p with 0 log 0 = 0 (the where keeps the gradient finite at 0 too)."""
    p = jnp.asarray(p)
    safe = jnp.where(p > 0, p, 1.0)
    return jnp.where(p > 0, p * jnp.log2(safe), 0.0)


def entropy(p, axis=-1):
    """H(p) in bits over `axis` (p need not be normalised: H of the entries as given)."""
    return -jnp.sum(xlog2x(p), axis=axis)


def entropy_np(p, axis=-1) -> np.ndarray:
    """H(p) in bits in NumPy, for host-side loops where a jax dispatch per call costs more than
    the arithmetic (optimisers' objectives, brute-force enumerations)."""
    p = np.asarray(p, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0), axis=axis)


def joint_entropy(pxy):
    """H(X, Y) of a joint table (..., n, m)."""
    return -jnp.sum(xlog2x(pxy), axis=(-2, -1))


def mutual_information(pxy):
    """I(X; Y) = H(X) + H(Y) - H(X, Y) of a joint table (..., n, m), in bits."""
    return entropy(pxy.sum(-1)) + entropy(pxy.sum(-2)) - joint_entropy(pxy)


def conditional_entropy(pxy):
    """H(Y | X) = H(X, Y) - H(X) of a joint table (..., n, m) with X on the rows."""
    return joint_entropy(pxy) - entropy(pxy.sum(-1))


def independent(p, q):
    """The independent coupling p q^T (the maximum-entropy coupling)."""
    return p[..., :, None] * q[..., None, :]


def check_distribution(p, name: str = "p", tol: float = SUM_TOL) -> np.ndarray:
    """p as a float64 vector, or ValueError: not 1-D, empty, non-finite, negative, or not summing
    to 1 within `tol`. Renormalised to sum exactly to 1 in float64 (a change <= tol)."""
    a = np.asarray(p, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D probability vector, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite entries (nan or inf)")
    if np.any(a < 0):
        raise ValueError(f"{name} has negative entries (min {a.min():.3g})")
    if abs(a.sum() - 1.0) > tol:
        raise ValueError(f"{name} sums to {a.sum():.12g}, not 1 (tolerance {tol:g})")
    return a / a.sum()


def check_rate(rate: float, name: str = "R") -> float:
    """A rate in bits: finite and >= 0, or ValueError."""
    r = float(rate)
    if not np.isfinite(r) or r < 0:
        raise ValueError(f"{name} must be a finite rate >= 0 bits, got {rate}")
    return r
