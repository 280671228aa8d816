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

The tree recursion itself (arc-cosines, children means) is kernels/cnn_tree.py, shared with the
Gram kernel. Everything is float64 (call under `jax.enable_x64(True)`): arccos near t = 1 loses
half the digits in float32, which is exactly where the spectrum's asymptotics live.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from kernels.cnn_tree import check_filters, patch_cosines, relu_step, tree_from_cosines


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


# Jitted: op by op, the float64 tree compiled every primitive on its own (~400 compiles in one
# cnn_ntk_spectrum smoke run); one program per shape instead.
@functools.partial(jax.jit, static_argnums=2)
def _cnn_kernels(x, y, filters):
    return tree_from_cosines(patch_cosines(x, y, filters[0]), filters)


def cnn_kernels(x, y, filters):
    """NNGP and NTK Gram matrices (n, m) of the hierarchical CNN; x: (n, d), y: (m, d).

    Materialises the (n, m, d / s_1) cosine array: the authors' way, for small n and for tests.
    Use `kernels.cnn_gram.cnn_gram` for large n (tiled, or one fused Pallas tile per block).
    """
    return _cnn_kernels(x, y, check_filters(x.shape[-1], filters))


@functools.partial(jax.jit, static_argnums=2)
def _cnn_kernels_pointwise(x, y, filters):
    s1 = filters[0]
    cos = jnp.sum(x.reshape(x.shape[0], -1, s1) * y.reshape(y.shape[0], -1, s1), axis=-1)
    return tree_from_cosines(cos, filters)


def cnn_kernels_pointwise(x, y, filters):
    """Kernel values k(x_a, y_a) for paired rows (n, d), (n, d) -> (n,), (n,): diagonal checks."""
    return _cnn_kernels_pointwise(x, y, check_filters(x.shape[-1], filters))


@functools.partial(jax.jit, static_argnums=2)
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


# ------------------------------------------------------------------------------- oracle
def nt_cnn_kernel_fn(filters):
    """neural-tangents' stax kernel_fn of the same architecture (the oracle): Conv(filter =
    stride = s_l, VALID) + Relu per layer, Flatten, Dense; W_std = sqrt(s_1) on the raw input
    (NT divides by fan-in), sqrt(2) after every ReLU (the He factor). Inputs (n, d, 1)."""
    from theory._nt_compat import nt

    st = nt.stax
    layers = []
    for i, s in enumerate(filters):
        w = math.sqrt(s) if i == 0 else math.sqrt(2.0)
        layers += [st.Conv(1, (s,), strides=(s,), padding="VALID", W_std=w), st.Relu()]
    layers += [st.Flatten(), st.Dense(1, W_std=math.sqrt(2.0))]
    return st.serial(*layers)[2]


def nt_cnn_kernels(x, filters):
    """(NNGP, NTK) Gram matrices of x by `nt_cnn_kernel_fn` (neural-tangents). NumPy arrays."""
    k = nt_cnn_kernel_fn(tuple(filters))(x[:, :, None], None, ("nngp", "ntk"))
    return np.asarray(k.nngp), np.asarray(k.ntk)
