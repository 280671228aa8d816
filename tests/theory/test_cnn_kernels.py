"""Hierarchical CNN kernels: invariants, neural-tangents, Monte-Carlo arc-cosines, finite nets."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernels import cnn_tree as tree
from models import cnn_nets as nets
from theory import cnn_kernels as ck

PAPER = "cagnetta2023_wide_cnn"  # the paper this module's time is charged to (conftest)

ARCHS = [(2, 2, 2), (3, 3), (2, 4), (4,), (2, 2, 3)]
# Diagonal entries: t = x.x is 1 +- a few ulp and kappa_0 has a square-root cusp at 1:
# arccos(1 - e) ~ sqrt(2 e) ~ 2e-8 for e ~ 2e-16, times at most L + 1 <= 5 terms.
DIAG_TOL = 1e-7


def _x(n, filters, seed=0):
    return ck.sample_product_of_spheres(jax.random.key(seed), n, math.prod(filters), filters[0])


@pytest.mark.parametrize("filters", ARCHS)
def test_invariants(x64, filters):
    x = _x(9, filters)
    k, t = ck.cnn_kernels(x, x, filters)
    np.testing.assert_allclose(np.diag(k), 1.0, atol=DIAG_TOL)
    np.testing.assert_allclose(np.diag(t), len(filters) + 1, atol=DIAG_TOL)
    np.testing.assert_allclose(k, k.T, atol=1e-15)
    # Positive semi-definite (a covariance): smallest eigenvalue >= -rounding
    assert np.linalg.eigvalsh(np.asarray(t)).min() > -1e-10
    # |K(x, y)| <= sqrt(K(x, x) K(y, y)) and ReLU kernels are non-negative
    assert np.all(np.asarray(k) >= -1e-15) and np.all(np.asarray(k) <= 1 + DIAG_TOL)


@pytest.mark.parametrize("filters", [(2, 2, 2), (3, 3), (2, 4)])
def test_equals_neural_tangents(x64, filters):

    x = _x(10, filters, seed=3)
    k, t = (np.asarray(a) for a in ck.cnn_kernels(x, x, filters))
    kn, tn = ck.nt_cnn_kernels(x, filters)
    off = ~np.eye(10, dtype=bool)
    np.testing.assert_allclose(k[off], kn[off], atol=1e-12)
    np.testing.assert_allclose(t[off], tn[off], atol=1e-12)
    np.testing.assert_allclose(t, tn, atol=DIAG_TOL)


def test_arc_cosines_match_monte_carlo(x64):
    """kappa_1(t) = 2 E[relu(u) relu(v)], kappa_0(t) = 2 E[1(u>0) 1(v>0)] for unit Gaussians of
    correlation t: estimated from 400k pairs, compared within 5 standard errors."""
    n = 400_000
    z = jax.random.normal(jax.random.key(0), (2, n), jnp.float64)
    for t in (-0.9, -0.3, 0.0, 0.5, 0.95):
        u, v = z[0], t * z[0] + math.sqrt(1 - t * t) * z[1]
        for fn, samp in (
            (tree.kappa1, 2 * jax.nn.relu(u) * jax.nn.relu(v)),
            (tree.kappa0, 2.0 * (u > 0) * (v > 0)),
        ):
            se = float(jnp.std(samp)) / math.sqrt(n)
            assert abs(float(jnp.mean(samp)) - float(fn(t))) < 5 * se + 1e-12


def test_known_values(x64):
    assert float(tree.kappa1(1.0)) == pytest.approx(1.0)
    assert float(tree.kappa1(0.0)) == pytest.approx(1 / math.pi)
    assert float(tree.kappa1(-1.0)) == pytest.approx(0.0, abs=1e-15)
    assert float(tree.kappa0(0.0)) == pytest.approx(0.5)
    assert float(tree.kappa0(1.0)) == pytest.approx(1.0)


def test_single_layer_is_mean_over_patches_and_full_filter_is_fc(x64):
    x, y = _x(5, (2, 3)), _x(4, (2, 3), seed=1)  # d = 6
    k, t = ck.cnn_kernels(x, y, (2,))  # one layer: readout over 3 positions
    cos = tree.patch_cosines(x, y, 2)
    np.testing.assert_allclose(k, tree.kappa1(cos).mean(-1), atol=1e-15)
    np.testing.assert_allclose(t, (tree.kappa1(cos) + tree.kappa0(cos) * cos).mean(-1), atol=1e-15)
    # filters (d,) on unit-norm inputs is the depth-1 FC kernel
    xs = ck.normalise_patches(x, 6)
    ys = ck.normalise_patches(y, 6)
    for a, b in zip(ck.cnn_kernels(xs, ys, (6,)), ck.fc_kernels(xs, ys, 1), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-15)


def test_pointwise_matches_gram_diagonal(x64):
    x, y = _x(6, (2, 2, 2)), _x(6, (2, 2, 2), seed=2)
    k, t = ck.cnn_kernels(x, y, (2, 2, 2))
    kp, tp = ck.cnn_kernels_pointwise(x, y, (2, 2, 2))
    np.testing.assert_allclose(kp, np.diag(k), atol=1e-15)
    np.testing.assert_allclose(tp, np.diag(t), atol=1e-15)


def test_jit_and_vmap(x64):
    x = _x(4, (2, 2))
    f = jax.jit(lambda a, b: ck.cnn_kernels(a, b, (2, 2)))
    k, _ = f(x, x)
    kv, _ = jax.vmap(lambda a: ck.cnn_kernels(a[None], x, (2, 2)))(x)
    np.testing.assert_allclose(kv[:, 0, :], k, atol=1e-15)


def test_bad_input():
    with pytest.raises(ValueError, match="does not divide the input length d = 8"):
        tree.check_filters(8, (3, 2))
    with pytest.raises(ValueError, match="must be >= 1"):
        tree.check_filters(8, (2, 0))
    with pytest.raises(ValueError, match="unit sphere"):
        tree.check_unit_patches(np.ones((3, 4)), 2)
    tree.check_unit_patches(ck.normalise_patches(jnp.ones((3, 4)), 2), 2)


@pytest.mark.parametrize("shared", [True, False], ids=["cnn", "lcn"])
def test_finite_width_kernels_converge_like_inverse_sqrt_width(shared):
    """Relative error of the empirical NTK/NNGP vs width: fluctuations of an average over `width`
    i.i.d. units, slope -1/2. Fitted over 3 widths x 4 seeds; accepted within 0.25 (half the gap to
    the alternatives -1 and 0)."""
    f, widths = (2, 2, 2), (16, 64, 256)
    with jax.enable_x64(True):
        x = _x(6, f, seed=5)
        k, t = (np.asarray(a) for a in ck.cnn_kernels(x, x, f))
    x32 = jnp.asarray(x, jnp.float32)
    errs = {"ntk": [], "nngp": []}
    for w in widths:
        m = nets.HierarchicalNet(filters=f, width=w, shared=shared)

        def errors(key, m=m):
            p = m.init(key, x32)
            e_t = jnp.linalg.norm(nets.empirical_ntk(m, p, x32) - t) / np.linalg.norm(t)
            e_k = jnp.linalg.norm(nets.empirical_nngp(m, p, x32) - k) / np.linalg.norm(k)
            return e_t, e_k

        # the 4 seeds in one compiled program per width (jit of vmap), keys as before
        keys = jnp.stack([jax.random.key(100 * w + s) for s in range(4)])
        e_t, e_k = jax.jit(jax.vmap(errors))(keys)
        errs["ntk"].append(float(np.mean(e_t)))
        errs["nngp"].append(float(np.mean(e_k)))
    for name, e in errs.items():
        slope = np.polyfit(np.log(widths), np.log(e), 1)[0]
        assert -0.75 < slope < -0.25, (name, slope, e)


def test_authors_nets_without_he_factor_are_ours_scaled_by_2_to_the_minus_L():
    """Same weights, no sqrt(2) gains: ReLU homogeneity makes the output 2^(-L/2) times ours and
    the empirical NTK exactly 2^-L times ours (float32 rounding only)."""
    f = (2, 2, 2)
    x32 = jnp.asarray(_x(5, f, seed=7), jnp.float32)
    ours = nets.HierarchicalNet(filters=f, width=64)
    theirs = nets.HierarchicalNet(filters=f, width=64, he_factor=False)
    p = ours.init(jax.random.key(0), x32)  # same parameter tree for both
    np.testing.assert_allclose(theirs.apply(p, x32) * 2 ** (3 / 2), ours.apply(p, x32), rtol=1e-5)
    np.testing.assert_allclose(
        nets.empirical_ntk(theirs, p, x32) * 2**3, nets.empirical_ntk(ours, p, x32), rtol=1e-4
    )


def test_list_and_array_forms_of_the_tree_agree(x64):
    cos = jax.random.uniform(jax.random.key(9), (3, 5, 12), jnp.float64, -1, 1)
    for f in [(2, 2, 3), (3, 4), (2, 6), (2,)]:
        want = tree.tree_from_cosines(cos[..., : 12 // f[0]], f)
        got = tree.tree_from_cosine_list(list(jnp.moveaxis(cos[..., : 12 // f[0]], -1, 0)), f)
        for a, b in zip(want, got, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-15)
