"""Finite-width hierarchical CNNs and locally connected nets (flax): estimators of the kernels.

The networks whose infinite-width NNGP and NTK are theory/cnn_kernels.py (Cagnetta, Favero, Wyart,
arXiv:2208.01003v5, Sec. 2): non-overlapping patches (filter = stride), ReLU, no bias, NTK
parameterisation (weights N(0, 1), the scale in the forward pass), He factor sqrt(2) on every
layer after a ReLU, first layer scaled so that it gives the raw patch cosine, Flatten + Dense
readout. `shared=True` is a CNN (one filter per layer), `shared=False` a locally connected net (a
filter per position); both have the same infinite-width kernels.

The authors' finite nets (network_functions.py, LocNet1dNT) omit the sqrt(2) He factor. ReLU is
positively homogeneous, so with the same weights their output is 2^(-L/2) times ours and their
empirical NTK exactly 2^-L times ours: they match the analytic NTK of kernel_functions.py up to
that overall factor, not exactly. `he_factor=False` reproduces them.

Estimators: `empirical_ntk` (J J^T over all parameters) and `empirical_nngp` (the readout
features' Gram, which converges to the NNGP); both fluctuate like width^{-1/2}.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp


class HierarchicalNet(nn.Module):
    filters: tuple[int, ...]
    width: int
    shared: bool = True
    he_factor: bool = True

    def _features(self, x):
        """Post-ReLU activations of the last layer, (n, top_positions, width)."""
        s1 = self.filters[0]
        gain = math.sqrt(2.0) if self.he_factor else 1.0
        h = x.reshape(x.shape[0], -1, s1)  # (n, P1, s1): one input channel
        fan_in = s1
        scale = math.sqrt(s1) / math.sqrt(fan_in)  # W_std = sqrt(s_1): the raw patch cosine
        for layer, s in enumerate(self.filters):
            if layer > 0:
                h = h.reshape(h.shape[0], -1, s * h.shape[-1])  # group s children
                fan_in = h.shape[-1]
                scale = gain / math.sqrt(fan_in)
            shape = (fan_in, self.width) if self.shared else (h.shape[1], fan_in, self.width)
            w = self.param(f"w{layer + 1}", nn.initializers.normal(1.0), shape, h.dtype)
            eq = "npi,io->npo" if self.shared else "npi,pio->npo"
            h = nn.relu(scale * jnp.einsum(eq, h, w))
        return h

    @nn.compact
    def __call__(self, x, *, features_only: bool = False):
        h = self._features(x)
        if features_only:
            return h
        flat = h.reshape(h.shape[0], -1)
        gain = math.sqrt(2.0) if self.he_factor else 1.0
        beta = self.param("readout", nn.initializers.normal(1.0), (flat.shape[-1],), x.dtype)
        return gain / math.sqrt(flat.shape[-1]) * flat @ beta


def empirical_ntk(model: HierarchicalNet, params, x):
    """(n, n) empirical NTK: sum over all parameters of grad f(x_a) . grad f(x_b)."""
    jac = jax.jacrev(lambda p: model.apply(p, x))(params)
    leaves = [j.reshape(x.shape[0], -1) for j in jax.tree_util.tree_leaves(jac)]
    return sum(j @ j.T for j in leaves)


def empirical_nngp(model: HierarchicalNet, params, x):
    """(n, n) Gram of the readout features, scaled like the readout: -> NNGP as width -> inf."""
    h = model.apply(params, x, features_only=True)
    flat = h.reshape(h.shape[0], -1)
    gain2 = 2.0 if model.he_factor else 1.0
    return gain2 * flat @ flat.T / flat.shape[-1]
