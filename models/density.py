"""Density estimators fitted to posterior draws, returned as `models.bnn.MixturePrior` so the next
task's sampler uses them as its prior (Kessler et al. 2023, arXiv:2301.01828, Sec. 3: "we
propagate the posterior by fitting a density estimator on HMC samples").

- `gaussian`: full-covariance Gaussian (sample mean and covariance, ridge `reg` on the diagonal).
- `diagonal`: independent Gaussians per coordinate.
- `mixture`: a full-covariance Gaussian mixture fitted by EM with k-means++ seeding
  (scikit-learn's GaussianMixture, the authors' choice too), its number of components chosen by
  the mean held-out log-likelihood over a grid of K (the authors' selection rule).

Fitting is host-side float64 (the draws number in the thousands, d in the hundreds); the result
is converted to the float32 `MixturePrior` the sampler evaluates.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from models.bnn import MixturePrior

METHODS = ("gaussian", "diagonal", "mixture")
REG = 1e-6  # ridge added to every covariance diagonal (scikit-learn's reg_covar default)


def _check(draws) -> np.ndarray:
    x = np.asarray(draws, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"draws must be (n >= 2, d), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("draws must be finite")
    return x


def _upper_from_cov(cov: np.ndarray) -> np.ndarray:
    """U upper triangular with U^T U = cov^-1."""
    prec = np.linalg.inv(cov)
    prec = 0.5 * (prec + prec.T)
    return np.linalg.cholesky(prec).T


def gaussian(draws, reg: float = REG) -> MixturePrior:
    x = _check(draws)
    cov = np.cov(x, rowvar=False) + reg * np.eye(x.shape[1])
    return MixturePrior(
        jnp.zeros((1,), jnp.float32),
        jnp.asarray(x.mean(0)[None], jnp.float32),
        jnp.asarray(_upper_from_cov(cov)[None], jnp.float32),
    )


def diagonal(draws, reg: float = REG) -> MixturePrior:
    x = _check(draws)
    sd = np.sqrt(x.var(0, ddof=1) + reg)
    return MixturePrior(
        jnp.zeros((1,), jnp.float32),
        jnp.asarray(x.mean(0)[None], jnp.float32),
        jnp.asarray(np.diag(1.0 / sd)[None], jnp.float32),
    )


class MixtureFit(NamedTuple):
    prior: MixturePrior
    k: int  # components chosen
    grid: tuple[int, ...]  # the K tried
    heldout_ll: tuple[float, ...]  # mean held-out log-likelihood per K (nan: not fittable)


def k_grid(k_max: int, n_fit: int, d: int) -> tuple[int, ...]:
    """K = 1, 2, 4, ... up to k_max, keeping >= d + 1 fitting draws per component (fewer make a
    full covariance singular: only the ridge would hold it up)."""
    if k_max < 1:
        raise ValueError(f"k_max must be >= 1, got {k_max}")
    cap = max(1, n_fit // (d + 1))
    grid, k = [], 1
    while k <= min(k_max, cap):
        grid.append(k)
        k *= 2
    return tuple(grid)


def mixture(draws, k_max: int, *, seed: int = 0, heldout: float = 0.25, reg: float = REG,
            max_iter: int = 200) -> MixtureFit:  # fmt: skip
    """EM (k-means++ seeding) for each K of `k_grid` on a random (1 - heldout) of the draws, K
    chosen by the held-out mean log-likelihood, then refitted on all draws at that K."""
    from sklearn.mixture import GaussianMixture

    x = _check(draws)
    n, d = x.shape
    if k_max > n:
        raise ValueError(f"k_max = {k_max} components is more than the {n} draws")
    perm = np.random.default_rng(seed).permutation(n)
    n_fit = int(round((1 - heldout) * n))
    fit, val = x[perm[:n_fit]], x[perm[n_fit:]]
    grid = k_grid(k_max, n_fit, d)

    def em(k, data):
        return GaussianMixture(
            k, covariance_type="full", reg_covar=reg, max_iter=max_iter,
            init_params="k-means++", random_state=seed,
        ).fit(data)  # fmt: skip

    lls = []
    for k in grid:
        lls.append(float(em(k, fit).score(val)) if len(val) else float("nan"))
    best = grid[int(np.nanargmax(lls))] if np.any(np.isfinite(lls)) else 1
    g = em(best, x)
    # sklearn: P = C C^T with C upper triangular and z = C^T (x - mu): our U is C^T (lower)
    u = np.transpose(g.precisions_cholesky_, (0, 2, 1))
    prior = MixturePrior(
        jnp.asarray(np.log(g.weights_), jnp.float32),
        jnp.asarray(g.means_, jnp.float32),
        jnp.asarray(u, jnp.float32),
    )
    return MixtureFit(prior, best, grid, tuple(lls))
