"""models.train: seeds vmapped, independent (resumable by seed), equal to a plain loop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from models import train
from runtime import rng

D, B, STEPS = 5, 16, 30
STREAM_DATA = 2


def _batches(seed_ids):
    """Each seed's data from its own stream, so a seed's batches do not depend on the others."""
    w_true = jnp.linspace(-1.0, 1.0, D)

    def one(s):
        kx = rng.key(0, STREAM_DATA, s)
        x = jax.random.normal(kx, (STEPS, B, D))
        return x, x @ w_true

    xs, ys = jax.vmap(one)(jnp.asarray(seed_ids))  # (seeds, steps, B, ...)
    return lambda t: (xs[:, t], ys[:, t])


def _loss(p, batch):
    x, y = batch
    return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)


def _init(k):
    return {"w": jax.random.normal(k, (D,)), "b": jnp.zeros(())}


def _run(seed_ids):
    keys = jnp.stack([rng.key(0, 1, s) for s in seed_ids])
    params = train.init_seeds(_init, keys)
    return train.train(_loss, optax.adam(0.1), params, _batches(seed_ids), steps=STEPS)


def test_loss_falls_for_every_seed():
    res = _run([0, 1, 2])
    assert res.losses.shape == (3, STEPS)
    assert np.all(res.losses[:, -5:].mean(1) < 0.5 * res.losses[:, :5].mean(1))


def test_a_seed_trained_alone_equals_the_same_seed_among_others():
    """Resumable by seed: seeds never interact. Same arithmetic per seed, batched or not; the
    tolerance allows XLA a different reduction order for a different vmapped batch size (a few
    float32 ulps per step over 30 steps)."""
    together = _run([0, 1, 2])
    alone = _run([1])
    for k in ("w", "b"):
        np.testing.assert_allclose(alone.params[k][0], together.params[k][1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(alone.losses[0], together.losses[1], rtol=1e-5, atol=1e-6)


def test_equals_a_plain_unbatched_loop():
    res = _run([3])
    p = _init(rng.key(0, 1, 3))
    opt = optax.adam(0.1)
    s = opt.init(p)
    batch_fn = _batches([3])
    for t in range(STEPS):
        x, y = batch_fn(t)
        g = jax.grad(_loss)(p, (x[0], y[0]))
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
    np.testing.assert_allclose(res.params["w"][0], p["w"], rtol=1e-5, atol=1e-6)


def test_continues_from_an_optimizer_state():
    """Two calls of 15 steps with the state carried = one call of 30 (same batches)."""
    keys = jnp.stack([rng.key(0, 1, 0)])
    opt = optax.adam(0.1)
    batch_fn = _batches([0])
    full = train.train(_loss, opt, train.init_seeds(_init, keys), batch_fn, steps=STEPS)
    half = STEPS // 2
    a = train.train(_loss, opt, train.init_seeds(_init, keys), batch_fn, steps=half)
    b = train.train(
        _loss, opt, a.params, lambda t: batch_fn(t + half), steps=half, opt_state=a.opt_state
    )
    np.testing.assert_allclose(b.params["w"], full.params["w"], rtol=1e-6, atol=1e-7)


def test_bad_input():
    params = {"w": jnp.zeros((2, D)), "b": jnp.zeros((3,))}
    with pytest.raises(ValueError, match="one leading seeds axis"):
        train.train(_loss, optax.sgd(0.1), params, lambda t: None, steps=1)
    with pytest.raises(ValueError, match="steps"):
        train.train(_loss, optax.sgd(0.1), params, lambda t: None, steps=0)
