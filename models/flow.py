"""A RealNVP density fitted to posterior draws, used as the next task's prior (Kessler et al.
2023, arXiv:2301.01828, Sec. 3: the posterior propagated through "a normalizing flow" fitted to
the HMC samples; the authors' flow is a RealNVP, src/density_estimators.py at f8e8ff3).

Density (Dinh, Sohl-Dickstein, Bengio 2017, Eq. 4-6): x is first standardised,
u = (x - loc) / exp(log_scale) (fixed from the fitting draws, not trained); then `layers` affine
couplings, each splitting u into its first `d // 2` coordinates u_a and the rest u_b,

    u_b <- (u_b - t(u_a)) * exp(-s(u_a)),    s = tanh(MLP_s(u_a)),  t = MLP_t(u_a),

followed by reversing the coordinate order (so the next coupling transforms the other part).
MLP_s and MLP_t are d_a -> hidden -> hidden -> d_b with leaky-ReLU, as the authors'. With z the
final u, log p(x) = log N(z; 0, I) - sum_layers sum s - sum log_scale. The last linear layer of
every MLP starts at zero, so an unfitted flow is the identity on u: exactly the diagonal Gaussian
of `models.density.diagonal` (same mean, variance + ridge), which the tests check. tanh bounds
each coupling's log-scale to [-1, 1], so the density is finite everywhere (HMC may leave the
draws' support).

Fitting (`fit`): maximum likelihood with Adam on a random (1 - heldout) of the draws, minibatches
of `batch`, `epochs` epochs, every epoch in one jitted `lax.scan`; the parameters of the epoch
with the best held-out mean log-likelihood are returned (the held-out log-likelihood of every
epoch, and of the unfitted flow = the diagonal Gaussian, come back with them).

Departures from the authors' flow (read for its semantics): Adam at lr 1e-3 (theirs: Adamax at
their command-line default lr 0.1, step decay every 5000 steps); the draws standardised first
(theirs: raw weights); the best held-out epoch kept (their early stopping only starts after
epoch 200 of at most 200, so their flow is the last epoch's); a standard-normal base (theirs too,
unless the GMM is also fitted, when the GMM is the flow's base).
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from models.density import REG

LEAK = 0.01  # torch.nn.LeakyReLU's default slope (the authors' nets)


class Flow(NamedTuple):
    """A RealNVP density (a pytree: pass it to jitted code as an argument). s and t: the coupling
    MLPs' (W1 (L, d_a, h), b1 (L, h), W2 (L, h, h), b2 (L, h), W3 (L, h, d_b), b3 (L, d_b))."""

    loc: jax.Array  # (d,)
    log_scale: jax.Array  # (d,)
    s: tuple
    t: tuple


class FlowFit(NamedTuple):
    flow: Flow
    best_epoch: int  # 0: the unfitted flow (the diagonal Gaussian) was best on held-out draws
    heldout_ll: tuple[float, ...]  # mean held-out log-likelihood after each epoch
    heldout_ll_diagonal: float  # the same for the unfitted flow (= the diagonal Gaussian)


def _mlp_init(key, layers: int, d_in: int, hidden: int, d_out: int) -> tuple:
    """LeCun-normal hidden layers, zero output layer (the coupling starts as the identity)."""
    k1, k2 = jax.random.split(key)
    w1 = jax.random.normal(k1, (layers, d_in, hidden)) / math.sqrt(d_in)
    w2 = jax.random.normal(k2, (layers, hidden, hidden)) / math.sqrt(hidden)
    return (
        w1, jnp.zeros((layers, hidden)), w2, jnp.zeros((layers, hidden)),
        jnp.zeros((layers, hidden, d_out)), jnp.zeros((layers, d_out)),
    )  # fmt: skip


def init(key, loc, log_scale, *, layers: int = 4, hidden: int = 100) -> Flow:
    """An identity flow on the standardised coordinates (the diagonal Gaussian (loc, scale))."""
    d = int(np.shape(loc)[0])
    if d < 2:
        raise ValueError(f"a coupling flow needs d >= 2 coordinates, got {d}")
    if layers < 1 or hidden < 1:
        raise ValueError(f"layers and hidden must be >= 1, got {layers}, {hidden}")
    da = d // 2
    ks, kt = jax.random.split(key)
    return Flow(
        jnp.asarray(loc, jnp.float32),
        jnp.asarray(log_scale, jnp.float32),
        _mlp_init(ks, layers, da, hidden, d - da),
        _mlp_init(kt, layers, da, hidden, d - da),
    )


def _mlp(p: tuple, i: int, x):
    """x (n, d_in) -> (n, d_out)."""
    w1, b1, w2, b2, w3, b3 = (a[i] for a in p)
    h = jax.nn.leaky_relu(x @ w1 + b1[None], LEAK)
    h = jax.nn.leaky_relu(h @ w2 + b2[None], LEAK)
    return h @ w3 + b3[None]


def _layers(flow: Flow) -> int:
    return flow.s[0].shape[0]


def log_density(flow: Flow, x):
    """log p(x) for x of shape (..., d)."""
    d = flow.loc.shape[0]
    da = d // 2
    lead = x.shape[:-1]
    u = (x.reshape(-1, d) - flow.loc[None]) * jnp.exp(-flow.log_scale)[None]
    logdet = -jnp.sum(flow.log_scale)
    for i in range(_layers(flow)):
        ua, ub = u[:, :da], u[:, da:]
        s = jnp.tanh(_mlp(flow.s, i, ua))
        ub = (ub - _mlp(flow.t, i, ua)) * jnp.exp(-s)
        logdet = logdet - jnp.sum(s, -1)
        u = jnp.concatenate([ua, ub], -1)[:, ::-1]
    out = -0.5 * jnp.sum(u * u, -1) - 0.5 * d * math.log(2 * math.pi) + logdet
    return out.reshape(lead)


def inverse(flow: Flow, z):
    """x with forward(x) = z, for z of shape (n, d): the map a draw z ~ N(0, I) takes."""
    d = flow.loc.shape[0]
    da = d // 2
    u = z
    for i in reversed(range(_layers(flow))):
        u = u[:, ::-1]
        ua, ub = u[:, :da], u[:, da:]
        ub = ub * jnp.exp(jnp.tanh(_mlp(flow.s, i, ua))) + _mlp(flow.t, i, ua)
        u = jnp.concatenate([ua, ub], -1)
    return flow.loc[None] + jnp.exp(flow.log_scale)[None] * u


@partial(jax.jit, static_argnums=2)
def sample(flow: Flow, key, n: int):
    """n draws from the flow, (n, d)."""
    z = jax.random.normal(key, (n, flow.loc.shape[0]), flow.loc.dtype)
    return inverse(flow, z)


@partial(jax.jit, static_argnames=("epochs", "batch", "lr", "weight_decay"))
def _train(flow: Flow, key, fit_x, val_x, *, epochs: int, batch: int, lr: float,
           weight_decay: float):  # fmt: skip
    """(best flow, per-epoch held-out mean log-likelihood, best epoch): Adam(W) on the mean
    negative log-likelihood, only the coupling MLPs trained."""
    import optax

    opt = optax.adamw(lr, weight_decay=weight_decay) if weight_decay else optax.adam(lr)
    nets = (flow.s, flow.t)

    def nll(nets, xb):
        return -jnp.mean(log_density(flow._replace(s=nets[0], t=nets[1]), xb))

    def val_ll(nets):
        return jnp.mean(log_density(flow._replace(s=nets[0], t=nets[1]), val_x))

    steps = fit_x.shape[0] // batch

    def epoch(carry, k):
        nets, state, best_nets, best_ll, best_epoch, e = carry
        idx = jax.random.permutation(k, fit_x.shape[0])[: steps * batch].reshape(steps, batch)

        def step(c, ib):
            nets, state = c
            g = jax.grad(nll)(nets, fit_x[ib])
            upd, state = opt.update(g, state, nets)
            return (optax.apply_updates(nets, upd), state), None

        (nets, state), _ = jax.lax.scan(step, (nets, state), idx)
        ll = val_ll(nets)
        better = ll > best_ll  # nan (a diverged epoch) is never better
        best_nets = jax.tree.map(lambda a, b: jnp.where(better, a, b), nets, best_nets)
        best_epoch = jnp.where(better, e, best_epoch)
        return (nets, state, best_nets, jnp.where(better, ll, best_ll), best_epoch, e + 1), ll

    ll0 = val_ll(nets)
    init_c = (nets, opt.init(nets), nets, ll0, jnp.int32(0), jnp.int32(1))
    (_, _, best, _, best_epoch, _), lls = jax.lax.scan(epoch, init_c, jax.random.split(key, epochs))
    return flow._replace(s=best[0], t=best[1]), lls, best_epoch, ll0


def fit(draws, *, layers: int = 4, hidden: int = 100, epochs: int = 200, batch: int = 32,
        lr: float = 1e-3, weight_decay: float = 0.0, heldout: float = 0.25,
        seed: int = 0) -> FlowFit:  # fmt: skip
    """Fit a RealNVP to draws (n, d) by maximum likelihood (module docstring); the held-out split
    is the same random (1 - heldout) / heldout as `models.density.mixture`'s for one seed."""
    x = np.asarray(draws, np.float64)
    if x.ndim != 2 or x.shape[0] < 4 or x.shape[1] < 2:
        raise ValueError(f"draws must be (n >= 4, d >= 2), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("draws must be finite")
    if not 0.0 < heldout < 1.0:
        raise ValueError(f"heldout must be in (0, 1), got {heldout}")
    if epochs < 1 or batch < 1 or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"epochs, batch >= 1 and lr > 0 needed, got {epochs}, {batch}, {lr}")
    n = x.shape[0]
    perm = np.random.default_rng(seed).permutation(n)
    n_fit = int(round((1 - heldout) * n))
    if not 1 <= n_fit < n:
        raise ValueError(f"{n} draws leave no fitting or no held-out part at heldout={heldout}")
    fit_x, val_x = x[perm[:n_fit]], x[perm[n_fit:]]
    batch = min(batch, n_fit)
    loc = fit_x.mean(0)
    log_scale = 0.5 * np.log(fit_x.var(0, ddof=1) + REG)  # models.density.diagonal's scale
    flow = init(jax.random.key(seed), loc, log_scale, layers=layers, hidden=hidden)
    best, lls, best_epoch, ll0 = _train(
        flow, jax.random.key(seed + 1), jnp.asarray(fit_x, jnp.float32),
        jnp.asarray(val_x, jnp.float32), epochs=epochs, batch=batch, lr=float(lr),
        weight_decay=float(weight_decay),
    )  # fmt: skip
    return FlowFit(best, int(best_epoch), tuple(float(v) for v in np.asarray(lls)), float(ll0))
