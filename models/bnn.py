"""A small Bayesian MLP as a flat parameter vector, its log-likelihood, and Gaussian-mixture log
priors with fixed shapes: the target that numpyro's samplers run on (Kessler et al. 2023,
arXiv:2301.01828, Sec. 3: a 2-10-10-2 ReLU network with biases, isotropic Gaussian prior of
precision 10 on every parameter).

Every prior is a `MixturePrior` (log weights (K,), means (K, d), upper Cholesky factors of the
precisions (K, d, d)): the isotropic start is K = 1; a full or diagonal Gaussian fitted to draws
is K = 1; a fitted mixture pads unused components with log weight -inf. All priors of one run
then share one shape, so one compiled sampler serves every task and every method (data and
prior are arguments, not constants).
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp


class MLP(NamedTuple):
    """in_dim -> hidden -> hidden -> out_dim, ReLU, biases; parameters flattened in the order
    W1 (in, h), b1, W2 (h, h), b2, W3 (h, out), b3."""

    in_dim: int
    hidden: int
    out_dim: int

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        i, h, o = self.in_dim, self.hidden, self.out_dim
        return ((i, h), (h,), (h, h), (h,), (h, o), (o,))

    @property
    def size(self) -> int:
        return sum(math.prod(s) for s in self.shapes)

    def unflatten(self, theta):
        out, at = [], 0
        for s in self.shapes:
            n = math.prod(s)
            out.append(theta[at : at + n].reshape(s))
            at += n
        return out

    def logits(self, theta, x):
        """(n, out_dim) logits of one parameter vector theta (d,) on inputs x (n, in_dim)."""
        w1, b1, w2, b2, w3, b3 = self.unflatten(theta)
        h = jax.nn.relu(x @ w1 + b1[None])
        h = jax.nn.relu(h @ w2 + b2[None])
        return h @ w3 + b3[None]

    def log_likelihood(self, theta, x, y, weight=None):
        """sum_i weight_i log softmax(logits(x_i))[y_i] (weight: a 0/1 mask selecting data of a
        padded array; None = all)."""
        logp = jax.nn.log_softmax(self.logits(theta, x), axis=-1)
        ll = jnp.take_along_axis(logp, y[:, None], axis=-1)[:, 0]
        return ll.sum() if weight is None else (weight * ll).sum()

    def init_like_authors(self, key, n: int):
        """n parameter vectors with weights N(0, 1/fan_in) and zero biases (the authors' chain
        initialisation, src/nets.py weights_init_normal)."""
        parts = []
        for s, k in zip(self.shapes, jax.random.split(key, len(self.shapes)), strict=True):
            if len(s) == 2:
                parts.append(jax.random.normal(k, (n, *s)).reshape(n, -1) / math.sqrt(s[0]))
            else:
                parts.append(jnp.zeros((n, s[0])))
        return jnp.concatenate(parts, axis=1)


class MixturePrior(NamedTuple):
    """log p(theta) = logsumexp_k [log w_k + log N(theta; mu_k, P_k^-1)], P_k = U_k^T U_k with
    U_k triangular (its log-determinant is then the sum of log |diagonal|)."""

    log_w: jax.Array  # (K,), -inf for padding
    means: jax.Array  # (K, d)
    prec_chol: jax.Array  # (K, d, d) triangular (upper or lower) U_k with P_k = U_k^T U_k


def log_density(prior: MixturePrior, theta):
    d = theta.shape[-1]
    z = jnp.einsum("kij,kj->ki", prior.prec_chol, theta[None] - prior.means)
    logdet = jnp.sum(jnp.log(jnp.abs(jnp.diagonal(prior.prec_chol, axis1=1, axis2=2))), -1)
    comp = -0.5 * jnp.sum(z * z, -1) + logdet - 0.5 * d * math.log(2 * math.pi)
    return logsumexp(prior.log_w + comp)


def isotropic(d: int, precision: float, k_max: int = 1, dtype=jnp.float32) -> MixturePrior:
    """N(0, I / precision), padded to k_max components."""
    return pad(
        MixturePrior(
            jnp.zeros((1,), dtype),
            jnp.zeros((1, d), dtype),
            math.sqrt(precision) * jnp.eye(d, dtype=dtype)[None],
        ),
        k_max,
    )


def pad(prior: MixturePrior, k_max: int) -> MixturePrior:
    """The same density with k_max components (extra ones weightless copies of the first)."""
    k = prior.log_w.shape[0]
    if k > k_max:
        raise ValueError(f"a prior with {k} components does not fit k_max = {k_max}")
    extra = k_max - k
    return MixturePrior(
        jnp.concatenate([prior.log_w, jnp.full((extra,), -jnp.inf, prior.log_w.dtype)]),
        jnp.concatenate([prior.means, jnp.repeat(prior.means[:1], extra, 0)]),
        jnp.concatenate([prior.prec_chol, jnp.repeat(prior.prec_chol[:1], extra, 0)]),
    )


@partial(jax.jit, static_argnums=2)
def sample(prior: MixturePrior, key, n: int):
    """n draws from the mixture: theta = mu_k + U_k^-1 eps."""
    kc, kz = jax.random.split(key)
    comp = jax.random.categorical(kc, prior.log_w, shape=(n,))
    eps = jax.random.normal(kz, (n, prior.means.shape[1]), prior.means.dtype)
    u = prior.prec_chol[comp]
    x = jnp.linalg.solve(u, eps[..., None])[..., 0]
    return prior.means[comp] + x
