"""The one training loop: optax, seeds vmapped, the seed axis sharded over devices, a progress bar.

    params = init_seeds(lambda k: model.init(k, dummy), keys)       # leading axis = seeds
    result = train(loss_fn, optimizer, params, batch_fn, steps=1000, desc="based d=64")
    result.params, result.opt_state, result.losses                  # losses: (seeds, steps)

`loss_fn(params, batch) -> scalar` is written for ONE seed's parameters and batch; `batch_fn(t)`
returns step t's batch for every seed (a pytree whose leaves have a leading seeds axis), so each
seed trains on its own data. One jitted step updates every seed at once
(`vmap(value_and_grad + optimizer.update)`); with several devices the seed axis is split across
them through runtime.sharding.place_batch (replicated when it does not divide evenly), so the
same code runs on 1 CPU, on simulated CPU devices and on a multi-GPU host.

Checkpoint-free, resumable by seed: seeds never interact (no reduction over the seed axis), so a
seed's trajectory depends only on its key and its batches. An interrupted sweep is resumed by
training the missing seeds alone, provided the caller draws each seed's batches from that seed's
own stream (`runtime.rng.key(seed, STREAM_DATA, s)`); tests/models/test_train.py checks that a
seed trained alone equals the same seed trained among others. (jrt_training draws one joint batch
for all seeds and reshapes it, which keeps its committed results; it is resumable only as a whole.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np
import optax

from runtime import progress
from runtime.sharding import place_batch


class TrainResult(NamedTuple):
    params: Any  # pytree, leading axis = seeds
    opt_state: Any  # pytree, leading axis = seeds
    losses: np.ndarray  # (seeds, steps), the loss of each step's batch before its update


def init_seeds(init_fn: Callable[[jax.Array], Any], keys: jax.Array):
    """Parameters for every seed: `vmap(init_fn)(keys)`, keys of shape (seeds,). Not jitted,
    though op by op a flax init compiles every layer's ops one by one: under jit XLA fuses the
    initialisers' float32 arithmetic and the draws move in the last bit (measured on the JRT
    models), which would change every cited number made with the eager form."""
    return jax.vmap(init_fn)(keys)


_STEPS: dict = {}


def make_step(loss_fn: Callable, optimizer: optax.GradientTransformation):
    """The jitted update of every seed: (params, opt_state, batch) -> (params, opt_state, loss).
    One per (loss_fn, optimizer) pair of objects, so that training in several `train` calls (an
    evaluation between epochs) compiles the step once."""
    if (loss_fn, optimizer) not in _STEPS:
        _STEPS[(loss_fn, optimizer)] = _make_step(loss_fn, optimizer)
    return _STEPS[(loss_fn, optimizer)]


def update_fn(loss_fn: Callable, optimizer: optax.GradientTransformation) -> Callable:
    """One seed's update, unjitted: (params, opt_state, batch) -> (params, opt_state, loss).
    `make_step` vmaps it over seeds; a benchmark of one model's step jits it as it is."""

    def one(p, s, batch):
        loss, g = jax.value_and_grad(loss_fn)(p, batch)
        upd, s = optimizer.update(g, s, p)
        return optax.apply_updates(p, upd), s, loss

    return one


def _make_step(loss_fn: Callable, optimizer: optax.GradientTransformation):
    return jax.jit(jax.vmap(update_fn(loss_fn, optimizer)))


def _place(tree):
    return jax.tree_util.tree_map(place_batch, tree)


def train(
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    params,
    batch_fn: Callable[[int], Any],
    *,
    steps: int,
    opt_state=None,
    desc: str = "train",
) -> TrainResult:
    """`steps` optimizer steps of every seed at once (see the module docstring).

    params: pytree with a leading seeds axis (`init_seeds`); opt_state: the optimizer state of a
    previous call to continue from (default: fresh, `vmap(optimizer.init)`); batch_fn(t): step t's
    batch, leaves (seeds, ...). Returns the final params and state and the per-step losses.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    seeds = {x.shape[0] for x in jax.tree_util.tree_leaves(params)}
    if len(seeds) != 1:
        raise ValueError(f"params must share one leading seeds axis, got sizes {sorted(seeds)}")
    if opt_state is None:
        opt_state = jax.jit(jax.vmap(optimizer.init))(params)
    step = make_step(loss_fn, optimizer)
    params, opt_state = _place(params), _place(opt_state)
    losses = []
    for t in progress.bar(range(steps), desc=desc):
        params, opt_state, loss = step(params, opt_state, _place(batch_fn(t)))
        losses.append(loss)  # device arrays: the host does not wait for each step
    return TrainResult(params, opt_state, np.stack([np.asarray(v) for v in losses]).T)
