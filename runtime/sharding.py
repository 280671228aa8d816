"""Shard a leading batch axis (seeds, runs, chains, kernel rows) over `jax.devices()`.

`shard_map_batch(fn, *xs)` = `jit(vmap(fn))` with the inputs placed on a 1-D mesh over every device,
the batch axis split across it (padded to a multiple of the device count and cut back after).
`shard_rows(fn, x, *replicated)` runs a block function (rows in, rows out: a Gram-matrix row
block) on each device's share of the rows of x. `place_batch(x)` only places x, for a jitted
function that then runs SPMD (reductions over the batch become cross-device sums). The
same code runs on 1 CPU, on N simulated CPU devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=N`), on a multi-GPU host, and multi-host after
`jax.distributed.initialize()` (then `jax.devices()` spans every process; see WORKSPACE.md).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"


def batch_mesh(devices=None) -> Mesh:
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (BATCH_AXIS,))


def _pad(x, n_pad: int):
    if n_pad == 0:
        return x
    # Repeat the last row: a valid input, so padded lanes cannot produce NaNs or errors.
    tail = jnp.repeat(x[-1:], n_pad, axis=0)
    return jnp.concatenate([x, tail], axis=0)


def shard_map_batch(
    fn: Callable, *xs, mesh: Mesh | None = None, static_argnums=(), compiler_options=None
):
    """Applies `vmap(fn)` over the shared leading axis of `xs`, sharded across devices.
    compiler_options: passed to `jax.jit` (runtime.compile_options)."""
    mesh = batch_mesh() if mesh is None else mesh
    n_dev = mesh.devices.size
    n = jax.tree_util.tree_leaves(xs)[0].shape[0]
    n_pad = (-n) % n_dev
    sharding = NamedSharding(mesh, PartitionSpec(BATCH_AXIS))
    padded = jax.tree_util.tree_map(lambda x: jax.device_put(_pad(x, n_pad), sharding), xs)
    out = _jitted_vmap(fn, compiler_options or {})(*padded)
    return jax.tree_util.tree_map(lambda y: y[:n], out)


_CACHE: dict = {}


def _jitted_vmap(fn, compiler_options: dict):
    # One compiled function per Python callable and options (jit would otherwise retrace per
    # wrapper object).
    key = (fn, tuple(sorted(compiler_options.items())))
    if key not in _CACHE:
        _CACHE[key] = jax.jit(jax.vmap(fn), compiler_options=compiler_options or None)
    return _CACHE[key]


def place_batch(x, mesh: Mesh | None = None):
    """Puts `x` on the devices with its leading axis split across them (replicated when the axis
    does not divide evenly: reductions over the batch, e.g. EM flows, must not see padding).

    A jitted function of the placed array then runs SPMD over the mesh; sums over the batch axis
    become cross-device reductions inserted by XLA."""
    mesh = batch_mesh() if mesh is None else mesh
    spec = PartitionSpec(BATCH_AXIS) if x.shape[0] % mesh.devices.size == 0 else PartitionSpec()
    return jax.device_put(x, NamedSharding(mesh, spec))


def replicate(tree, mesh: Mesh | None = None):
    """Every leaf of `tree` replicated on the mesh (NamedSharding, spec P()). A jitted function's
    outputs computed from placed inputs carry this placement; feeding it freshly created
    (unplaced) arrays on the first call and its own outputs afterwards compiles the same program
    twice, once per placement. Place the first inputs with this."""
    mesh = batch_mesh() if mesh is None else mesh
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def shard_rows(fn: Callable, x, *replicated, mesh: Mesh | None = None):
    """`fn(x_rows, *replicated)` on each device's share of the rows of x; outputs (a pytree of
    arrays with a leading rows axis) are concatenated back in order.

    fn sees a block of rows (not one row, unlike `shard_map_batch`), so it can keep its own
    blocking (lax.map, a Pallas grid). Rows are padded with copies of the last row to a multiple
    of the device count and cut back after; with one device (or fewer rows than devices) it is
    plain `fn(x, *replicated)`. Kernels stay single-device; callers distribute through this.
    """
    mesh = batch_mesh() if mesh is None else mesh
    n_dev = mesh.devices.size
    n = x.shape[0]
    if n_dev == 1 or n < n_dev:
        return fn(x, *replicated)
    xp = jax.device_put(_pad(x, (-n) % n_dev), NamedSharding(mesh, PartitionSpec(BATCH_AXIS)))
    f = jax.shard_map(
        fn,
        mesh=mesh,
        in_specs=(PartitionSpec(BATCH_AXIS), *(PartitionSpec() for _ in replicated)),
        out_specs=PartitionSpec(BATCH_AXIS),
        check_vma=False,
    )
    out = jax.jit(f)(xp, *replicated)
    return jax.tree_util.tree_map(lambda y: y[:n], out)
