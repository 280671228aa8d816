"""Sequential Bayesian inference for continual learning: the exact (conjugate) cases.

Kessler, Cobb, Rudner, Zohren, Roberts, "On Sequential Bayesian Inference for Continual
Learning", Entropy 25(6):884, 2023, arXiv:2301.01828. Sec. 4 (model misspecification: exact
inference can still forget) and Sec. 5 (imbalanced task data: exact inference forgets the small
task). The paper argues these with worked examples; the closed forms below are ours, derived in
each docstring, and every one has a Monte-Carlo estimator beside it (tests/theory).

Float64 throughout: call under `jax.enable_x64(True)`.

1. Conjugate Bayesian linear regression, y = phi(x)^T w + eps, eps ~ N(0, s2), prior
   w ~ N(m0, S0). The posterior is N(m, S) with S^-1 = S0^-1 + Phi^T Phi / s2 and
   m = S (S0^-1 m0 + Phi^T y / s2) (`blr_update`). Updating task by task with the previous
   posterior as the prior gives exactly the joint posterior of all tasks' data (the precisions
   and the precision-weighted means add), so sequential inference is exact here: `blr_sequential`
   and `blr_joint` agree to round-off.

2. Misspecification (Sec. 4). Inputs of task t are uniform on an interval I_t and the target is
   f(x) = |x|; task 1 lives on x < 0, task 2 on x > 0. The "linear" features (1, x) fit each task
   alone exactly but not their union; the "hinge" features (1, x, |x|) fit the union. Exact
   inference with the linear model forgets task 1 after task 2; with the hinge model it does not.
   The measure is task 1's risk R_1(w) = E_{x ~ U(I_1), eps}[(f(x) + eps - phi(x)^T w)^2]
       = s2 + c - 2 g^T w + w^T H w,   H = E[phi phi^T], g = E[phi f], c = E[f^2]   (over U(I_1)),
   (`task_moments`: Gauss-Legendre, exact for these piecewise-polynomial integrands). Given the
   training inputs, the posterior mean is linear in the noise, m = A y + b with A = S Phi^T / s2,
   b = S S0^-1 m0, so over the training noise E[m] = A f(X) + b, Cov[m] = s2 A A^T and
       E[R_1(m)] = s2 + c - 2 g^T E[m] + E[m]^T H E[m] + tr(H Cov[m])       (`expected_risk`).
   In the large-data limit (prior washed out) m -> the least-squares projection of f on the
   features under the pooled input distribution, w* = H_u^-1 g_u with H_u, g_u the N-weighted
   mixtures of the tasks' moments; its excess task-1 risk is `projection_excess_risk` (1/3 for
   linear features on I_1 = [-2, 0], I_2 = [0, 2] at N1 = N2: the best line through |x| on
   [-2, 2] is the constant 1, and Var_{U[-2,0]}(x) = 1/3; 0 for the hinge features).

3. Task imbalance (Sec. 5), the shared-mean Gaussian model: task t's data x ~ N(mu_t, s2),
   N_t points; the model says every x ~ N(theta, s2) with prior theta ~ N(0, v0). The posterior
   after both tasks (sequential = joint) has mean m = sum(x) / (N + r), r = s2 / v0,
   N = N1 + N2, so as an estimate of task 1's mean
       bias = (N1 mu1 + N2 mu2) / (N + r) - mu1,   var = N s2 / (N + r)^2     (`imbalance`),
   and the bias tends to mu2 - mu1 as N2 / N1 grows: the large task takes over the estimate and
   task 1 is forgotten although inference is exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

# --- conjugate Bayesian linear regression -------------------------------------------------------


def check_prior(mean, cov, name: str = "prior") -> None:
    """ValueError unless mean is a finite vector and cov a finite symmetric positive-definite
    matrix of matching size (a Cholesky factorisation succeeds)."""
    m, s = np.asarray(mean, np.float64), np.asarray(cov, np.float64)
    if m.ndim != 1 or s.shape != (m.shape[0], m.shape[0]):
        raise ValueError(f"{name}: mean must be (d,) and cov (d, d), got {m.shape}, {s.shape}")
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(s))):
        raise ValueError(f"{name}: mean and cov must be finite")
    if not np.allclose(s, s.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(s).max())):
        raise ValueError(f"{name}: cov must be symmetric")
    try:
        np.linalg.cholesky(s)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name}: cov must be positive definite") from None


def _spd_inverse(p):
    """Inverse of a symmetric positive-definite matrix through its Cholesky factor."""
    chol = jnp.linalg.cholesky(p)
    eye = jnp.eye(p.shape[0], dtype=p.dtype)
    inv_l = jnp.linalg.solve(chol, eye)  # triangular system (the matrices here are small)
    return inv_l.T @ inv_l


def blr_update(mean, cov, phi, y, noise_var: float):
    """Posterior (mean, cov) of w given y = phi w + N(0, noise_var) and prior N(mean, cov)."""
    prec0 = _spd_inverse(cov)
    prec = prec0 + phi.T @ phi / noise_var
    post_cov = _spd_inverse(prec)
    post_cov = 0.5 * (post_cov + post_cov.T)
    return post_cov @ (prec0 @ mean + phi.T @ y / noise_var), post_cov


def blr_sequential(mean, cov, tasks: Sequence[tuple], noise_var: float) -> list[tuple]:
    """The posterior after each task, each task's prior the previous posterior."""
    out = []
    for phi, y in tasks:
        mean, cov = blr_update(mean, cov, phi, y, noise_var)
        out.append((mean, cov))
    return out


def blr_joint(mean, cov, tasks: Sequence[tuple], noise_var: float) -> tuple:
    """The posterior given every task's data at once."""
    phi = jnp.concatenate([p for p, _ in tasks])
    y = jnp.concatenate([t for _, t in tasks])
    return blr_update(mean, cov, phi, y, noise_var)


# --- misspecification -------------------------------------------------------------------------

FEATURES = ("linear", "hinge")


def features(kind: str, x):
    """phi(x): "linear" (1, x) cannot fit |x| across 0; "hinge" (1, x, |x|) can."""
    x = jnp.asarray(x)
    cols = [jnp.ones_like(x), x]
    if kind == "hinge":
        cols.append(jnp.abs(x))
    elif kind != "linear":
        raise ValueError(f"unknown features {kind!r}; expected one of {FEATURES}")
    return jnp.stack(cols, axis=-1)


def target(x):
    """The function both tasks sample: f(x) = |x| (task 1 on x < 0, task 2 on x > 0)."""
    return jnp.abs(x)


def task_moments(kind: str, lo: float, hi: float, nodes: int = 8):
    """(H, g, c) = (E[phi phi^T], E[phi f], E[f^2]) for x ~ U(lo, hi) not straddling 0: Gauss-
    Legendre with `nodes` points is exact for polynomials of degree <= 2 nodes - 1, and the
    integrands are polynomials of degree <= 2 on each side of 0."""
    if lo < 0 < hi:
        raise ValueError(f"the interval must not straddle 0 (|x| has a kink there): [{lo}, {hi}]")
    t, w = np.polynomial.legendre.leggauss(nodes)
    x = jnp.asarray(0.5 * (hi - lo) * t + 0.5 * (hi + lo))
    w = jnp.asarray(0.5 * w)  # weights of the uniform density on [lo, hi]
    phi, f = features(kind, x), target(x)
    return (phi * w[:, None]).T @ phi, phi.T @ (w * f), jnp.sum(w * f * f)


def risk(m, moments, noise_var: float):
    """R(m) = s2 + c - 2 g^T m + m^T H m: the expected squared error of the prediction phi^T m
    on a fresh (x, y) of the task whose moments are given."""
    h, g, c = moments
    return noise_var + c - 2 * g @ m + m @ h @ m


def mean_moments(prior_mean, prior_cov, phi, f, noise_var: float):
    """(E[m], Cov[m]) of the posterior mean over the training noise y = f + eps, given the inputs:
    m = A y + b with A = S phi^T / s2, b = S S0^-1 m0."""
    _, s = blr_update(prior_mean, prior_cov, phi, jnp.zeros_like(f), noise_var)
    a = s @ phi.T / noise_var
    b = s @ (_spd_inverse(prior_cov) @ prior_mean)
    return a @ f + b, noise_var * a @ a.T


def expected_risk(prior_mean, prior_cov, phi, f, noise_var: float, moments):
    """E over the training noise of R(m): s2 + c - 2 g^T E[m] + E[m]^T H E[m] + tr(H Cov[m])."""
    em, cm = mean_moments(prior_mean, prior_cov, phi, f, noise_var)
    return risk(em, moments, noise_var) + jnp.trace(moments[0] @ cm)


def projection_excess_risk(kind: str, tasks: Sequence[tuple[float, float, float]], which: int = 0):
    """Excess risk on task `which` of the least-squares fit of f under the pooled inputs (the
    large-data limit of the posterior mean). tasks: (lo, hi, weight) per task (weight ~ N_t)."""
    mom = [task_moments(kind, lo, hi) for lo, hi, _ in tasks]
    wts = np.array([w for *_, w in tasks], np.float64)
    wts = wts / wts.sum()
    h = sum(float(w) * m[0] for w, m in zip(wts, mom, strict=True))
    g = sum(float(w) * m[1] for w, m in zip(wts, mom, strict=True))
    w_star = jnp.linalg.solve(h, g)
    return risk(w_star, mom[which], 0.0)


# --- task imbalance ---------------------------------------------------------------------------


def imbalance(n1, n2, mu1: float, mu2: float, noise_var: float, prior_var: float):
    """(bias, variance) of the exact posterior mean after both tasks as an estimate of task 1's
    mean, shared-mean Gaussian model (module docstring, 3). Broadcasts over n1, n2."""
    n1, n2 = jnp.asarray(n1, jnp.float64), jnp.asarray(n2, jnp.float64)
    n, r = n1 + n2, noise_var / prior_var
    return (n1 * mu1 + n2 * mu2) / (n + r) - mu1, n * noise_var / (n + r) ** 2


def gaussian_mean_posterior(x, noise_var: float, prior_var: float, weight=None):
    """(mean, var) of theta given samples x ~ N(theta, noise_var), prior N(0, prior_var).
    weight: an optional 0/1 mask over the last axis (the samples it keeps)."""
    if weight is None:
        weight = jnp.ones_like(x)
    n = weight.sum(-1)
    prec = n / noise_var + 1.0 / prior_var
    return (weight * x).sum(-1) / noise_var / prec, 1.0 / prec
