"""The arc-cosine patch tree of hierarchical CNN kernels, shared by theory and the Gram kernel.

Cagnetta, Favero, Wyart, ICML 2023, arXiv:2208.01003v5, App. A (the recursions); the architecture
and its conventions are in theory/cnn_kernels.py. With kappa_1, kappa_0 the normalised arc-cosine
kernels of degree 1 and 0 (Cho & Saul 2009) and t_i the first-level patch cosines,

    K_1 = t_i,                        Theta_1 = t_i                            (each patch)
    K_{l+1} = mean kappa_1(K_l),      Theta_{l+1} = mean (kappa_1(K_l) + kappa_0(K_l) Theta_l)

over the s_{l+1} children of each node, then the readout step averaged over the top positions.
Used by theory/cnn_kernels.py (closed forms), theory/cnn_spectra.py (torus spectra) and
kernels/cnn_gram.py (row-blocked XLA and the fused Pallas tile). Pure jnp, elementwise + means:
any shape, any float dtype (float64 wanted near t = 1, see theory/cnn_kernels.py).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np


# ------------------------------------------------------------------------------------ checks
def check_filters(d: int, filters) -> tuple[int, ...]:
    """Validate filter sizes for input length d; returns them as a tuple of ints."""
    filters = tuple(int(s) for s in filters)
    if not filters:
        raise ValueError("filters must name at least one layer")
    if any(s < 1 for s in filters):
        raise ValueError(f"filter sizes must be >= 1, got {filters}")
    prod = math.prod(filters)
    if d % prod:
        raise ValueError(
            f"the product of the filter sizes {filters} = {prod} does not divide the input "
            f"length d = {d}"
        )
    return filters


def check_unit_patches(x, s1: int, *, atol: float = 1e-6) -> None:
    """Raise ValueError unless every length-s1 patch of every row of x has unit norm."""
    x = np.asarray(x)
    if x.shape[-1] % s1:
        raise ValueError(f"input length {x.shape[-1]} is not a multiple of the patch size {s1}")
    norms = np.linalg.norm(x.reshape(*x.shape[:-1], -1, s1), axis=-1)
    worst = float(np.max(np.abs(norms - 1.0))) if norms.size else 0.0
    if worst > atol:
        raise ValueError(
            f"first-level patches must lie on the unit sphere (max | |x_i| - 1 | = {worst:.2e}); "
            "normalise each patch with theory.cnn_kernels.normalise_patches"
        )


# ------------------------------------------------------------------------------ arc-cosines
def _angle(t):
    """(theta, sin theta, t clipped) with theta = arccos(t), via atan2: (1 - t)(1 + t) is exact
    near t = 1 (Sterbenz), arccos(t) is not better. sin theta is that square root itself: no sin
    evaluation (on XLA:CPU, float64 sin cost ~0.7x the atan2 it followed; measured 2026-12-03)."""
    t = jnp.clip(t, -1.0, 1.0)
    s = jnp.sqrt(jnp.maximum((1.0 - t) * (1.0 + t), 0.0))
    return jnp.arctan2(s, t), s, t


def kappa0(t):
    """Arc-cosine kernel of degree 0, normalised: 2 E[step(u) step(v)] = 1 - arccos(t) / pi."""
    theta, _, _ = _angle(t)
    return 1.0 - theta / jnp.pi


def kappa1(t):
    """Arc-cosine kernel of degree 1, normalised to kappa1(1) = 1: 2 E[relu(u) relu(v)]
    = (sin theta + (pi - theta) t) / pi."""
    theta, s, t = _angle(t)
    return (s + (jnp.pi - theta) * t) / jnp.pi


def relu_step(k, theta):
    """One ReLU layer on (NNGP, NTK) arrays of the same shape, before the mean over children."""
    return kappa1(k), kappa1(k) + kappa0(k) * theta


# ----------------------------------------------------------------------- the tree recursion
def tree_from_cosines(cos, filters):
    """(NNGP, NTK) from first-level patch cosines cos (..., P1), P1 = d / s_1.

    Applies the L steps of the module docstring: L - 1 averages over s_2, ..., s_L children,
    then the readout average over the remaining top positions.
    """
    filters = tuple(filters)
    k = theta = cos
    for s in filters[1:]:
        k1, th = relu_step(k, theta)
        k = k1.reshape(*k1.shape[:-1], -1, s).mean(-1)
        theta = th.reshape(*th.shape[:-1], -1, s).mean(-1)
    k1, th = relu_step(k, theta)
    return k1.mean(-1), th.mean(-1)


def tree_from_leading_cosines(cos, filters):
    """`tree_from_cosines` with the patch axis first: cos (P1, ...) -> (NNGP, NTK) of shape (...).

    Every step then works on whole contiguous slabs (the children of a node are s adjacent
    slabs, their mean a sum of slabs), which is what the Gram kernel's tiles want. Same
    arithmetic as `tree_from_cosines` (the same elementwise steps and two-term means); tests
    check the two agree bit for bit."""
    filters = tuple(filters)
    k = theta = cos
    for s in filters[1:]:
        k1, th = relu_step(k, theta)
        k = k1.reshape(-1, s, *k1.shape[1:]).mean(1)
        theta = th.reshape(-1, s, *th.shape[1:]).mean(1)
    k1, th = relu_step(k, theta)
    return k1.mean(0), th.mean(0)


def tree_from_cosine_list(cosines, filters):
    """(NNGP, NTK) from a list of first-level patch cosine arrays (one per patch, any shapes that
    broadcast together): the same recursion as `tree_from_cosines`, node by node. Used where the
    patches live on separate arrays: the Pallas tile kernel (one (bm, bn) tile per patch) and the
    torus spectra (one grid axis per patch, nodes built by broadcasting)."""
    nodes = [(c, c) for c in cosines]
    for s in tuple(filters)[1:]:
        new = []
        for g in range(0, len(nodes), s):
            steps = [relu_step(k, t) for k, t in nodes[g : g + s]]
            new.append((sum(a for a, _ in steps) / s, sum(b for _, b in steps) / s))
        nodes = new
    steps = [relu_step(k, t) for k, t in nodes]
    top = len(steps)
    return sum(a for a, _ in steps) / top, sum(b for _, b in steps) / top


def patch_cosines(x, y, s1: int):
    """(n, m, P1) cosines between the first-level patches of x (n, d) and y (m, d)."""
    xp = x.reshape(x.shape[0], -1, s1)
    yp = y.reshape(y.shape[0], -1, s1)
    return jnp.einsum("ips,jps->ijp", xp, yp)
