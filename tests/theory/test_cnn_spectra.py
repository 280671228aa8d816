"""Spectral closed forms of hierarchical CNN kernels against their estimators."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernels import cnn_gram as G
from kernels import cnn_tree as tree
from theory import cnn_kernels as ck
from theory import cnn_spectra as S

PAPER = "cagnetta2023_wide_cnn"  # the paper this module's time is charged to (conftest)


def test_effective_dimensions_and_exponents():
    assert [S.d_eff((2, 2, 2), lv) for lv in (1, 2, 3)] == [1, 2, 4]
    assert [S.d_eff((3, 3), lv) for lv in (1, 2)] == [2, 6]
    assert S.sector_exponent("ntk", (2, 2, 2), 3) == 5.0
    assert S.sector_exponent("nngp", (3, 3), 2) == 9.0
    assert S.rank_slope("ntk", (2, 2, 2, 2)) == pytest.approx(1.125)
    with pytest.raises(ValueError, match="level must be"):
        S.d_eff((2, 2), 3)
    with pytest.raises(ValueError, match="kind"):
        S.sector_exponent("rbf", (2,), 1)


def test_learning_curve_exponent_limits():
    # full-input teacher: 2 nu_T / d_eff, whatever the student's nu
    assert S.learning_curve_exponent("ntk", 8, "ntk", 8) == pytest.approx(1 / 8)
    assert S.learning_curve_exponent("nngp", 8, "ntk", 8) == pytest.approx(3 / 8)
    # local teacher, d_S -> infinity: 2 nu_T / (2 nu_S + d_T)
    assert S.learning_curve_exponent("ntk", 2, "ntk", 10**9) == pytest.approx(1 / 3, rel=1e-6)
    # more local = faster
    b = [S.learning_curve_exponent("ntk", dt, "ntk", 8) for dt in (1, 2, 4, 8)]
    assert all(x > y for x, y in zip(b, b[1:], strict=False))
    with pytest.raises(ValueError, match="exceeds"):
        S.learning_curve_exponent("ntk", 9, "ntk", 8)


def test_sector_of():
    f = (2, 2, 2)  # 4 patches: pairs {0,1}, {2,3}
    assert S.sector_of([0, 0, 0, 0], f) == 0
    assert S.sector_of([3, 0, 0, 0], f) == 1
    assert S.sector_of([0, 0, 1, -2], f) == 2
    assert S.sector_of([1, 0, 0, 1], f) == 3
    assert S.sector_of([1, 0, 1, 0], (2,)) == 2  # spans two top positions: zero eigenvalue


def test_torus_constant_mode_and_trace():
    # NNGP of one layer on one circle: kappa_1(cos phi); its mean over phi is 4 / pi^2
    c = S.torus_spectrum((2,), 512, "nngp")
    assert c[0] == pytest.approx(4 / math.pi**2, rel=1e-6)
    # the Fourier coefficients sum to K(0) = 1 (NNGP) and L + 1 (NTK)
    assert S.torus_spectrum((2, 2), 64, "nngp").sum() == pytest.approx(1.0, abs=1e-12)
    assert S.torus_spectrum((2, 2), 64, "ntk").sum() == pytest.approx(3.0, abs=1e-12)


def test_torus_eigenvalues_match_monte_carlo(x64):
    """Lambda_k = E_phi[K(phi) cos(k . phi)] under uniform phi: a Monte-Carlo estimate from 2e5
    angle vectors agrees with the FFT value within 5 standard errors."""
    f = (2, 2)
    coeff = S.torus_spectrum(f, 256, "ntk")
    n = 200_000
    phi = jax.random.uniform(jax.random.key(1), (n, 2), jnp.float64, 0, 2 * math.pi)
    _, th = tree.tree_from_cosines(jnp.cos(phi), f)
    for k in ([1, 0], [2, 1], [3, 3], [0, 4]):
        samp = th * jnp.cos(phi @ jnp.asarray(k, jnp.float64))
        se = float(jnp.std(samp)) / math.sqrt(n)
        assert abs(float(jnp.mean(samp)) - coeff[tuple(np.asarray(k) % 256)]) < 5 * se


def test_slab_evaluation_equals_full_fft():
    f = (2, 2, 2)
    full = S.torus_spectrum(f, 16, "nngp")
    tg = np.concatenate([S.diagonal_targets(f, lv, [1, 2, 5]) for lv in (1, 2, 3)])
    tg = np.concatenate([tg, [[1, -2, 3, 0]]])
    np.testing.assert_allclose(
        S.torus_eigenvalues_at(f, 16, "nngp", tg), full[tuple((tg % 16).T)], atol=1e-15
    )


def test_sector_decay_exponents_on_the_torus():
    """Level-2 sector of filters (2, 2): slope -(2 nu + 2) along the diagonal and along (2, 1)
    (exact, no sampling noise; the neighbouring hypotheses 2 nu + 1 and 2 nu + 3 lie 1 away; the
    local slope is within 0.05 of its limit from k = 32 on, measured on a 2048 grid)."""
    for kind, want in (("ntk", 3.0), ("nngp", 5.0)):
        c = S.torus_spectrum((2, 2), 1024, kind)
        ks = np.array([32, 64, 128])
        # two directions within the sector, |k| <= 128 (aliasing <= (128 / 896)^(2 nu + 2))
        for kk, lam in ((ks, c[ks, ks]), (ks // 2, c[ks, ks // 2])):
            slope = -np.polyfit(np.log(kk), np.log(lam), 1)[0]
            assert abs(slope - want) < 0.1, (kind, slope)


def test_gram_eigenvalues_estimate_the_operator(x64):
    """Top Gram eigenvalues / n approach the exact torus eigenvalues (with multiplicity). Relative
    deviation of an isolated eigenvalue ~ sqrt(2 / n) (its variance is 2 lambda^2 / n for a
    bounded eigenfunction of unit norm); 5 x that for n = 1500 (0.18; a factor-2 or misplaced
    multiplicity error is >= 0.5). n = 1500, not 3000: the eigendecomposition is 8x cheaper."""
    f, n = (2, 2), 1500
    x = ck.sample_product_of_spheres(jax.random.key(2), n, 4, 2)
    _, t = G.cnn_gram(x, x, f)
    ev = S.gram_spectrum(t)
    exact = np.sort(S.torus_spectrum(f, 256, "ntk").reshape(-1))[::-1]
    rel = np.abs(ev[:5] - exact[:5]) / exact[:5]
    assert np.all(rel < 5 * math.sqrt(2 / n)), rel


def test_ridgeless_regression_interpolates_and_learns(x64):
    f = (2, 2)
    x = ck.sample_product_of_spheres(jax.random.key(3), 300, 4, 2)
    _, t = ck.cnn_kernels(x, x, f)
    y = S.sample_grf(jax.random.key(4), t, 2)
    # training points used as test points: ridgeless regression interpolates them exactly
    e = S.ridgeless_errors(t[:200, :200], t[:200, :200], y[:, :200], y[:, :200], [200])
    assert float(jnp.max(e)) < 1e-12
    # on fresh test points the error falls with n
    e = S.ridgeless_errors(t[:200, :200], t[200:, :200], y[:, :200], y[:, 200:], [25, 200])
    assert np.all(np.asarray(e[:, 1]) < np.asarray(e[:, 0]))
