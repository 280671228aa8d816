"""theory.sequential_bayes: sequential = joint for conjugate linear regression; the
misspecification and imbalance closed forms against Monte Carlo."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests._asserts import assert_close, assert_within_se
from theory import sequential_bayes as SB

PAPER = "kessler2023_seqbayes"
NOISE, PRIOR = 0.25, 4.0

pytestmark = pytest.mark.usefixtures("x64")  # conftest: float64 for every test here


def _prior(d):
    return jnp.zeros(d), PRIOR * jnp.eye(d)


def _task(key, kind, lo, hi, n):
    kx, ke = jax.random.split(key)
    x = jax.random.uniform(kx, (n,), jnp.float64, lo, hi)
    return SB.features(kind, x), SB.target(x), ke


def test_sequential_equals_joint_to_round_off():
    keys = jax.random.split(jax.random.key(0), 4)
    tasks = []
    for i, k in enumerate(keys):
        phi, f, ke = _task(k, "hinge", -2.0 + i, -1.0 + i if i < 2 else i - 1.0, 30)
        tasks.append((phi, f + jnp.sqrt(NOISE) * jax.random.normal(ke, f.shape, jnp.float64)))
    seq = SB.blr_sequential(*_prior(3), tasks, NOISE)
    joint = SB.blr_joint(*_prior(3), tasks, NOISE)
    # float64 round-off through 4 Cholesky solves of a 3x3 system with condition number < 1e4
    assert_close(seq[-1][0], joint[0], rtol=1e-10, atol=1e-12)
    assert_close(seq[-1][1], joint[1], rtol=1e-10, atol=1e-13)


def test_blr_update_matches_the_textbook_form():
    phi, f, ke = _task(jax.random.key(1), "linear", 0.0, 2.0, 12)
    y = f + jax.random.normal(ke, f.shape, jnp.float64)
    m0, s0 = jnp.array([0.5, -1.0]), jnp.array([[2.0, 0.3], [0.3, 1.0]])
    m, s = SB.blr_update(m0, s0, phi, y, NOISE)
    s_ref = np.linalg.inv(np.linalg.inv(s0) + np.asarray(phi.T @ phi) / NOISE)
    m_ref = s_ref @ (np.linalg.solve(s0, m0) + np.asarray(phi.T @ y) / NOISE)
    assert_close(s, s_ref, rtol=1e-10)
    assert_close(m, m_ref, rtol=1e-10)


@pytest.mark.parametrize(
    "mean,cov,msg",
    [
        ([0.0, 0.0], [[1.0, 0.0], [0.0, -1.0]], "positive definite"),
        ([0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]], "symmetric"),
        ([0.0, np.nan], [[1.0, 0.0], [0.0, 1.0]], "finite"),
        ([0.0], [[1.0, 0.0], [0.0, 1.0]], "(d,)"),
    ],
)
def test_check_prior_refuses(mean, cov, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        SB.check_prior(mean, cov)


def test_task_moments_exact():
    h, g, c = SB.task_moments("linear", -2.0, 0.0)
    # x ~ U(-2, 0): E[x] = -1, E[x^2] = 4/3; f = -x: E[f] = 1, E[x f] = -4/3, E[f^2] = 4/3
    assert_close(h, [[1.0, -1.0], [-1.0, 4 / 3]])
    assert_close(g, [1.0, -4 / 3])
    assert_close(c, 4 / 3)
    with pytest.raises(ValueError, match="straddle"):
        SB.task_moments("linear", -1.0, 1.0)


def test_projection_excess_risk_closed_values():
    tasks = [(-2.0, 0.0, 1.0), (0.0, 2.0, 1.0)]
    assert_close(SB.projection_excess_risk("linear", tasks), 1 / 3, rtol=1e-12)
    assert_close(SB.projection_excess_risk("hinge", tasks), 0.0, atol=1e-12)
    # task 1 alone: a line fits -x exactly
    assert_close(SB.projection_excess_risk("linear", tasks[:1]), 0.0, atol=1e-12)


@pytest.mark.parametrize("kind", SB.FEATURES)
def test_expected_risk_matches_monte_carlo(kind):
    """E[R_1(m)] over the training noise, closed form vs 2000 noise draws at fixed inputs."""
    k1, k2 = jax.random.split(jax.random.key(2))
    phi1, f1, _ = _task(k1, kind, -2.0, 0.0, 20)
    phi2, f2, _ = _task(k2, kind, 0.0, 2.0, 20)
    phi, f = jnp.concatenate([phi1, phi2]), jnp.concatenate([f1, f2])
    mom = SB.task_moments(kind, -2.0, 0.0)
    m0, s0 = _prior(phi.shape[1])
    closed = float(SB.expected_risk(m0, s0, phi, f, NOISE, mom))

    def one(k):
        y = f + jnp.sqrt(NOISE) * jax.random.normal(k, f.shape, jnp.float64)
        m, _ = SB.blr_update(m0, s0, phi, y, NOISE)
        return SB.risk(m, mom, NOISE)

    r = np.asarray(jax.vmap(one)(jax.random.split(jax.random.key(3), 2000)))
    assert_within_se(r.mean(), closed, r.std(ddof=1) / np.sqrt(r.size), what=f"{kind} risk")
    # and the risk itself against squared errors on fresh task-1 samples, for one posterior mean
    y = f + jnp.sqrt(NOISE) * jax.random.normal(jax.random.key(4), f.shape, jnp.float64)
    m, _ = SB.blr_update(m0, s0, phi, y, NOISE)
    pt, ft, ke = _task(jax.random.key(5), kind, -2.0, 0.0, 50_000)
    err = (ft + jnp.sqrt(NOISE) * jax.random.normal(ke, ft.shape, jnp.float64) - pt @ m) ** 2
    err = np.asarray(err)
    assert_within_se(err.mean(), float(SB.risk(m, mom, NOISE)), err.std(ddof=1) / np.sqrt(err.size))


def test_imbalance_matches_monte_carlo_and_limits():
    mu1, mu2 = 1.0, -1.0
    bias, var = SB.imbalance(10, 1000, mu1, mu2, NOISE, PRIOR)
    ks = jax.random.split(jax.random.key(6), 5000)

    def one(k):
        k1, k2 = jax.random.split(k)
        x = jnp.concatenate(
            [
                mu1 + jnp.sqrt(NOISE) * jax.random.normal(k1, (10,), jnp.float64),
                mu2 + jnp.sqrt(NOISE) * jax.random.normal(k2, (1000,), jnp.float64),
            ]
        )
        return SB.gaussian_mean_posterior(x, NOISE, PRIOR)[0]

    m = np.asarray(jax.vmap(one)(ks))
    assert_within_se(m.mean() - mu1, float(bias), m.std(ddof=1) / np.sqrt(m.size), what="bias")
    # the sample variance of 5000 normal draws has relative SE sqrt(2 / 4999) = 0.02
    assert abs(m.var(ddof=1) / float(var) - 1) < 4 * np.sqrt(2 / (m.size - 1))
    # limits: balanced and prior-free -> halfway; N2/N1 -> inf -> the whole gap mu2 - mu1
    b_eq, _ = SB.imbalance(1e9, 1e9, mu1, mu2, NOISE, PRIOR)
    b_inf, _ = SB.imbalance(1.0, 1e12, mu1, mu2, NOISE, PRIOR)
    assert_close(b_eq, (mu2 - mu1) / 2, rtol=1e-8)
    assert_close(b_inf, mu2 - mu1, rtol=1e-10)
