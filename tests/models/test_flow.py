"""models.flow: the RealNVP prior is a normalised density, starts as models.density.diagonal, and
its fit learns a non-Gaussian target; the sampler takes it as a prior."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import bnn, density, hmc
from models import flow as F


def _random_flow(d: int, layers: int = 3, hidden: int = 16) -> F.Flow:
    """A flow whose couplings are not the identity (random output layers, O(0.3) log-scales)."""
    f = F.init(jax.random.key(0), jnp.zeros(d), jnp.zeros(d), layers=layers, hidden=hidden)
    ks = jax.random.split(jax.random.key(1), 4)
    s, t = list(f.s), list(f.t)
    s[4] = 0.3 * jax.random.normal(ks[0], s[4].shape)
    t[4] = 0.2 * jax.random.normal(ks[1], t[4].shape)
    s[5] = 0.3 * jax.random.normal(ks[2], s[5].shape)
    t[5] = 0.2 * jax.random.normal(ks[3], t[5].shape)
    return f._replace(s=tuple(s), t=tuple(t))


def test_density_integrates_to_one():
    # 2-D, a grid sum over [-16, 16]^2 at h = 0.04. Measured: the sum changes by < 1e-6 between
    # h = 0.04 and 0.01 (the leaky-ReLU kinks make the density only piecewise smooth, an O(h^2)
    # error that small here), and the mass outside [-10, 10]^2 was 3.6e-5, so outside 16 it is
    # below 1e-7 (the tails are the base Gaussian's through bounded scales); float32 log
    # densities add ~1e-6 relative. Tolerance 1e-4. A wrong log-determinant (a sign, a missed
    # layer) moves the integral by O(1): the couplings' log-scales are ~0.3 per coordinate.
    f = _random_flow(2)
    h = 0.04
    g = np.arange(-16, 16 + h / 2, h)
    X, Y = np.meshgrid(g, g)
    pts = jnp.asarray(np.c_[X.ravel(), Y.ravel()], jnp.float32)
    p = np.exp(np.asarray(jax.jit(F.log_density)(f, pts), np.float64))
    assert abs(p.sum() * h * h - 1.0) < 1e-4
    # and the flow is not the base Gaussian (else the test above would not test the log-det)
    base = np.exp(-0.5 * (X.ravel() ** 2 + Y.ravel() ** 2)) / (2 * math.pi)
    assert np.abs(p - base).sum() * h * h > 0.1


def test_inverse_inverts_and_sampling_matches_the_density():
    f = _random_flow(5)
    z = jax.random.normal(jax.random.key(2), (64, 5))
    x = F.inverse(f, z)
    # forward(inverse(z)) = z through the log-density: log p(x) = log N(z) - log|det d x / d z|;
    # check the change of variables with jax.jacfwd of the inverse map (float32: ~1e-5 relative)
    jac = jax.vmap(jax.jacfwd(lambda zz: F.inverse(f, zz[None])[0]))(z)
    logdet = np.linalg.slogdet(np.asarray(jac, np.float64))[1]
    logn = -0.5 * np.sum(np.asarray(z, np.float64) ** 2, -1) - 2.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(np.asarray(F.log_density(f, x)), logn - logdet, atol=2e-4)
    assert F.sample(f, jax.random.key(3), 7).shape == (7, 5)


def test_unfitted_flow_is_the_diagonal_gaussian():
    draws = np.random.default_rng(1).normal(size=(50, 6)) * np.arange(1, 7) + 3
    diag = density.diagonal(draws)
    f = F.init(jax.random.key(0), draws.mean(0),
               0.5 * np.log(draws.var(0, ddof=1) + density.REG), layers=2, hidden=8)  # fmt: skip
    th = jnp.asarray(draws[:10], jnp.float32)
    want = jax.vmap(lambda q: bnn.log_density(diag, q))(th)
    # float32 on log densities ~ -15: a few ulps of 15 (~1e-6 each)
    np.testing.assert_allclose(np.asarray(F.log_density(f, th)), np.asarray(want), atol=1e-5)


def test_fit_learns_a_banana():
    # x0 ~ N(0, 1), x1 = 0.8 x0^2 + 0.3 eps: the true mean log-density is
    # 2 * (-0.5 log(2 pi e)) - log 0.3 = -1.6339. The claim: the fit closes more than half of the
    # gap between the diagonal Gaussian (its start) and the truth on held-out draws, and does not
    # beat the truth by more than 4 held-out standard errors (sd of log p ~1.2 here, 300 points:
    # SE ~0.07) -- that would be a bug in the log-determinant, not a good fit.
    n = 1200
    u = np.random.default_rng(0).normal(size=(n, 2))
    data = np.c_[u[:, 0], 0.3 * u[:, 1] + 0.8 * u[:, 0] ** 2]
    truth = -math.log(2 * math.pi * math.e) - math.log(0.3)
    fit = F.fit(data, layers=4, hidden=32, epochs=60, seed=0)
    best = max(fit.heldout_ll)
    assert fit.best_epoch == 1 + int(np.argmax(fit.heldout_ll))
    assert best > 0.5 * (truth + fit.heldout_ll_diagonal), (best, fit.heldout_ll_diagonal)
    assert best < truth + 4 * 0.07


def test_bad_draws_are_refused():
    with pytest.raises(ValueError, match="finite"):
        F.fit(np.array([[0.0, 1.0], [np.nan, 1.0], [1.0, 2.0], [3.0, 1.0]]))
    with pytest.raises(ValueError, match="n >= 4, d >= 2"):
        F.fit(np.zeros((10, 1)))


def test_sampler_takes_a_flow_prior():
    # the potential of the sampler with an (unfitted) flow prior = with the diagonal Gaussian it
    # equals: one compiled NUTS per prior type, same likelihood
    mlp = bnn.MLP(2, 3, 2)
    draws = np.random.default_rng(2).normal(size=(40, mlp.size))
    diag = density.diagonal(draws)
    f = F.init(jax.random.key(0), draws.mean(0), 0.5 * np.log(draws.var(0, ddof=1) + density.REG),
               layers=2, hidden=8)  # fmt: skip
    x = jnp.asarray(np.random.default_rng(3).normal(size=(10, 2)), jnp.float32)
    y = jnp.asarray(np.arange(10) % 2)
    w = jnp.ones(10, jnp.float32)
    th = jnp.asarray(draws[0], jnp.float32)
    pot_f = hmc._potential_gen(mlp, F.log_density)(x, y, w, f)(th)
    pot_d = hmc._potential_gen(mlp, bnn.log_density)(x, y, w, diag)(th)
    np.testing.assert_allclose(float(pot_f), float(pot_d), rtol=1e-5)
    s = hmc.Sampler(mlp, kind="nuts", chains=2, warmup=10, samples=10, max_tree_depth=3,
                    prior_log_density=F.log_density)  # fmt: skip
    run = s.run(jax.random.key(4), x, y, w, f, jnp.asarray(draws[:2], jnp.float32))
    assert run.draws.shape == (2, 10, mlp.size) and np.all(np.isfinite(np.asarray(run.draws)))
