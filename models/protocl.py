"""ProtoCL: class prototypes with a conjugate Gaussian posterior in a learned embedding.

Kessler et al. 2023 (arXiv:2301.01828, Sec. 7), built on PCOC (Harrison, Sharma, Finn, Pavone
2019, arXiv:1912.08866). Semantics read from the authors' code (github skezle/bayes_cl_posterior,
protocl/main/protocl.py and protocl/experiments/api.py); none of it is copied here.

The model, per class c of C, for an embedding phi = f_theta(x) in R^k and a fixed isotropic noise
variance s2 (the authors' `sigma_eps` = 0.05 enters as a variance):

    prior        mu_c ~ N(q0_c / l0_c, I / l0_c)          natural parameters q0_c in R^k, l0_c > 0
    likelihood   phi | y = c ~ N(mu_c, s2 I)
    posterior    q_c = q0_c + sum_{i: y_i = c} phi_i / s2,   l_c = l0_c + n_c / s2
    predictive   phi | y = c ~ N(q_c / l_c, (1 / l_c + s2) I)
    class prior  p(y = c) = a_c / sum_c' a_c',   a_c = a0_c + n_c   (Dirichlet posterior mean)

and p(y | x) is the softmax over c of log p(phi, y = c). Training minimises -log p(y | x) of each
batch under the posterior *before* that batch (its own labels never inform its predictions), then
adds the batch's statistics (with the embedding of the forward pass, gradient stopped). Only the
encoder is trained: the prior, the noise and the Dirichlet weights stay fixed (in the authors'
code the "learnable" Dirichlet weights are re-created as new tensors at every update, so their
optimiser steps a stale copy and never changes them).

Two ways the authors' code departs from that model, both kept here behind `per_row` and the
evaluation mode (experiments choose; the corrected form is the default):

- per-row posteriors (`per_row=True`): their update broadcasts the prior against the batch and
  keeps the result, so the posterior carries a leading batch axis: row i of every batch is
  classified by, and updates, the posterior of row i alone (each of the B rows sees ~1/B of the
  data). The corrected form sums the batch into one posterior.
- test labels (`update_on_eval`): their evaluation calls the same function as training, so every
  test batch's labels (and every validation batch's) are added to the posterior after it is
  scored, and stay there for the next test batches, the next test task and the next training
  task. The corrected evaluation scores with the training posterior and adds nothing.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax


class Posterior(NamedTuple):
    """Natural parameters of every class's prototype posterior and the Dirichlet weights.

    q: (..., C, k), prec: (..., C), alpha: (..., C); per-row (the authors' form): a leading
    batch axis.
    """

    q: jax.Array
    prec: jax.Array
    alpha: jax.Array


class Encoder(nn.Module):
    """The authors' Split(F)MNIST encoder: Linear(784, hidden) -> ReLU -> Linear(hidden, k)
    (their dropout is 0 in the published command and is left out)."""

    hidden: int
    dim: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.dim)(nn.relu(nn.Dense(self.hidden)(x)))


def prior(key, n_classes: int, dim: int, *, log_l0: float = 0.0, log_a0: float = 0.78):
    """The authors' initialisation: q0 ~ N(0, 1), log l0 ~ N(log_l0, 1) (their `Linv_init`), and
    log a0 = log_a0 for every class (their `dirichlet_scale`; 0.78 in the Split FMNIST command)."""
    kq, kl = jax.random.split(key)
    q = jax.random.normal(kq, (n_classes, dim))
    return Posterior(
        q=q,
        prec=jnp.exp(jax.random.normal(kl, (n_classes,)) + log_l0),
        # a concrete dtype (a weakly typed fill would take float32 from the first update)
        alpha=jnp.full((n_classes,), np.exp(log_a0), dtype=q.dtype),
    )


def log_joint(post: Posterior, phi, s2: float):
    """log p(phi, y = c) for every class: (B, C) for phi (B, k). A per-row posterior (leading
    axis B) scores row i with its own row; a shared one scores every row alike."""
    q, prec, alpha = post
    if q.ndim == 2:  # one posterior for every row: give it the row axis (explicit broadcasting)
        q, prec, alpha = q[None], prec[None], alpha[None]
    mu = q / prec[..., None]  # (1 or B, C, k)
    var = 1.0 / prec + s2  # (1 or B, C)
    k = phi.shape[-1]
    sq = jnp.sum((phi[:, None, :] - mu) ** 2, axis=-1)  # (B, C)
    log_px = -0.5 * (sq / var + k * jnp.log(var) + k * jnp.log(2 * jnp.pi))
    log_py = jnp.log(alpha) - jnp.log(jnp.sum(alpha, axis=-1, keepdims=True))
    return log_px + log_py


def nll(post: Posterior, phi, y, s2: float):
    """-log p(y | x) per row, (B,), for integer labels y (B,)."""
    logp = jax.nn.log_softmax(log_joint(post, phi, s2), axis=-1)
    return -jnp.take_along_axis(logp, y[:, None], axis=-1)[:, 0]


def update(post: Posterior, phi, y, s2: float, n_classes: int, *, per_row: bool) -> Posterior:
    """The posterior after adding the batch (phi (B, k), labels y (B,)); rows with y < 0
    (padding) add nothing. per_row: the authors' form, one posterior per batch row (a shared
    posterior is broadcast to the batch first)."""
    onehot = jax.nn.one_hot(y, n_classes, dtype=phi.dtype)  # zero rows for y < 0
    if per_row:
        q, prec, alpha = rows(post, phi.shape[0])
        return Posterior(
            q=q + onehot[:, :, None] * phi[:, None, :] / s2,
            prec=prec + onehot / s2,
            alpha=alpha + onehot,
        )
    return Posterior(
        q=post.q + onehot.T @ phi / s2,
        prec=post.prec + onehot.sum(0) / s2,
        alpha=post.alpha + onehot.sum(0),
    )


def rows(post: Posterior, b: int) -> Posterior:
    """A posterior with its leading row axis of size b (a shared one copied to every row)."""
    return Posterior(
        q=jnp.broadcast_to(post.q, (b, *post.q.shape[-2:])),
        prec=jnp.broadcast_to(post.prec, (b, post.prec.shape[-1])),
        alpha=jnp.broadcast_to(post.alpha, (b, post.alpha.shape[-1])),
    )


def exact_posterior(post0: Posterior, phi, y, s2: float, n_classes: int) -> Posterior:
    """The conjugate posterior of all of (phi, y) at once, in float64 with NumPy: the reference
    the sequential updates are tested against (sufficient statistics add)."""
    phi = np.asarray(phi, np.float64)
    onehot = np.eye(n_classes)[np.asarray(y)]
    q0, prec0, alpha0 = (np.asarray(v, np.float64) for v in post0)
    return Posterior(
        q=q0 + onehot.T @ phi / s2, prec=prec0 + onehot.sum(0) / s2, alpha=alpha0 + onehot.sum(0)
    )


def make_train_epoch(encoder: Encoder, opt: optax.GradientTransformation, s2: float, n_classes: int,
                     *, per_row: bool):  # fmt: skip
    """One pass over pre-batched data as a `lax.scan`, for one seed (vmap it over seeds):
    (params, opt_state, post, xs (S, B, D), ys (S, B)) -> (params, opt_state, post, losses (S,)).

    Each step scores its batch under the current posterior, takes an optimiser step on the mean
    NLL (the posterior held fixed), then adds the batch to the posterior with the embedding of
    that forward pass (the authors' order)."""

    def loss_fn(params, post, x, y):
        phi = encoder.apply(params, x)
        return jnp.mean(nll(post, phi, y, s2)), phi

    def step(carry, batch):
        params, opt_state, post = carry
        x, y = batch
        (loss, phi), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, post, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        post = update(post, jax.lax.stop_gradient(phi), y, s2, n_classes, per_row=per_row)
        return (params, opt_state, post), loss

    def epoch(params, opt_state, post, xs, ys):
        if per_row:
            post = rows(post, xs.shape[1])
        (params, opt_state, post), losses = jax.lax.scan(step, (params, opt_state, post), (xs, ys))
        return params, opt_state, post, losses

    return epoch


def make_evaluate(encoder: Encoder, s2: float, n_classes: int, *, per_row: bool,
                  update_on_eval: bool):  # fmt: skip
    """Scores pre-batched test data as a `lax.scan`, for one seed:
    (params, post, xs (S, B, D), ys (S, B)) -> (post, correct (S, B) bool).

    update_on_eval: the authors' evaluation, which adds each scored batch (labels included) to
    the posterior it returns; otherwise the posterior is returned unchanged."""

    def evaluate(params, post, xs, ys):
        if per_row:
            post = rows(post, xs.shape[1])

        def step(post, batch):
            x, y = batch
            phi = encoder.apply(params, x)
            correct = jnp.argmax(log_joint(post, phi, s2), axis=-1) == y
            if update_on_eval:
                post = update(post, phi, y, s2, n_classes, per_row=per_row)
            return post, correct

        return jax.lax.scan(step, post, (xs, ys))

    return evaluate
