"""Infinite-width kernels of hierarchical CNNs with non-overlapping patches (and the FC contrast).

Cagnetta, Favero, Wyart, "What Can Be Learnt With Wide Convolutional Neural Networks?", ICML 2023,
arXiv:2208.01003v5, Sec. 2 (the architecture and its kernels) and App. A (the recursions).

Architecture (the authors' code, github alesfav/convolutional_neural_kernels, fixes the
semantics): input x in R^d, filter sizes (s_1, ..., s_L) with prod(s) dividing d. Layer 1 is a
convolution with filter = stride = s_1 on the raw input, layer l >= 2 a convolution with filter =
stride = s_l on the ReLU outputs of layer l-1, no biases, NTK parameterisation with the He factor
sqrt(2) on every layer after a ReLU; the readout is dense over the d / prod(s) top positions
(Flatten then Dense). The first-level patches x_i (length s_1) lie on unit spheres (the paper's
product-of-spheres input measure), so layer 1 gives the raw patch cosine t_i = x_i . y_i.

With kappa_1, kappa_0 the normalised arc-cosine kernels of degree 1 and 0 (Cho & Saul 2009),

    K_1 = t_i,                        Theta_1 = t_i                            (each patch)
    K_{l+1} = mean kappa_1(K_l),      Theta_{l+1} = mean (kappa_1(K_l) + kappa_0(K_l) Theta_l)

for l = 1..L-1 (children: the s_{l+1} level-l nodes under one level-(l+1) node), and the readout
applies the same step once more, averaging over the d / prod(s) top positions. Invariants: the
NNGP ("RFK" in the paper) has diagonal 1, the NTK diagonal L + 1. A shared-weight CNN and a locally
connected net have the same NNGP and NTK here (Flatten readout, no pooling; Novak et al. 2019).

Everything is float64 (call under `jax.enable_x64(True)`): arccos near t = 1 loses half the digits
in float32, which is exactly where the spectrum's asymptotics live.
"""

from __future__ import annotations

import math

import jax
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


# ------------------------------------------------------------------------------------ inputs
def normalise_patches(x, s1: int):
    """Project each length-s1 patch of x (..., d) onto its unit sphere (patch-wise, not global)."""
    p = x.reshape(*x.shape[:-1], -1, s1)
    p = p / jnp.linalg.norm(p, axis=-1, keepdims=True)
    return p.reshape(x.shape)


def sample_product_of_spheres(key, n: int, d: int, s1: int, dtype=None):
    """n points uniform on (S^{s1-1})^{d/s1}: the paper's input measure (default dtype: jax's
    default float, i.e. float64 under `jax.enable_x64(True)`)."""
    if d % s1:
        raise ValueError(f"input length {d} is not a multiple of the patch size {s1}")
    z = jax.random.normal(key, (n, d)) if dtype is None else jax.random.normal(key, (n, d), dtype)
    return normalise_patches(z, s1)


# ------------------------------------------------------------------------------ arc-cosines
def _angle(t):
    # arccos via atan2: (1 - t)(1 + t) is exact near t = 1 (Sterbenz), arccos(t) is not better.
    t = jnp.clip(t, -1.0, 1.0)
    return jnp.arctan2(jnp.sqrt(jnp.maximum((1.0 - t) * (1.0 + t), 0.0)), t), t


def kappa0(t):
    """Arc-cosine kernel of degree 0, normalised: 2 E[step(u) step(v)] = 1 - arccos(t) / pi."""
    theta, _ = _angle(t)
    return 1.0 - theta / jnp.pi


def kappa1(t):
    """Arc-cosine kernel of degree 1, normalised to kappa1(1) = 1: 2 E[relu(u) relu(v)]."""
    theta, t = _angle(t)
    return (jnp.sin(theta) + (jnp.pi - theta) * t) / jnp.pi


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


def cnn_kernels(x, y, filters):
    """NNGP and NTK Gram matrices (n, m) of the hierarchical CNN; x: (n, d), y: (m, d).

    Materialises the (n, m, d / s_1) cosine array: the authors' way, for small n and for tests.
    Use `kernels.cnn_gram.cnn_gram` for large n (row-blocked, or one fused Pallas tile per block).
    """
    filters = check_filters(x.shape[-1], filters)
    return tree_from_cosines(patch_cosines(x, y, filters[0]), filters)


def cnn_kernels_pointwise(x, y, filters):
    """Kernel values k(x_a, y_a) for paired rows (n, d), (n, d) -> (n,), (n,): diagonal checks."""
    filters = check_filters(x.shape[-1], filters)
    s1 = filters[0]
    cos = jnp.sum(x.reshape(x.shape[0], -1, s1) * y.reshape(y.shape[0], -1, s1), axis=-1)
    return tree_from_cosines(cos, filters)


def fc_kernels(x, y, depth: int):
    """NNGP and NTK of a depth-`depth` ReLU FC net without bias, on x / |x| (the contrast kernel).

    Same parameterisation as the CNN: K_1 = cos(x, y), `depth` ReLU steps (the last one is the
    readout's), NTK diagonal depth + 1. On product-of-spheres inputs |x| = sqrt(d / s_1) for all x.
    """
    xn = x / jnp.linalg.norm(x, axis=-1, keepdims=True)
    yn = y / jnp.linalg.norm(y, axis=-1, keepdims=True)
    k = theta = xn @ yn.T
    for _ in range(depth):
        k, theta = relu_step(k, theta)
    return k, theta
