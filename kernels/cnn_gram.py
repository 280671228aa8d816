"""Gram matrices (NNGP and NTK) of hierarchical CNNs, built tile by tile.

The hot loop of `experiments.cnn_ntk_spectrum` and `experiments.cnn_learning_curves`: an (n, m)
Gram matrix whose every entry runs the whole patch tree of theory/cnn_kernels.py. The authors'
code (and `theory.cnn_kernels.cnn_kernels`) materialises the (n, m, d / s_1) cosine array and one
array per level, which is what made n = 8192 need ~200 GB in PyTorch. Here:

    cnn_gram_reference(x, y, filters, tile)  XLA: one lax.scan over (tile, tile) output blocks
        written in place; the patch axis leads, so the tree works on whole (tile, tile) slabs;
        for y = x only the upper tiles are computed, then mirrored (half the work).
    cnn_gram_pallas(x, y, filters, block_m, block_n, interpret)  one Pallas program per
        (block_m, block_n) output tile: loads an X and a Y block, computes the first-level patch
        cosines as d fused multiply-adds per entry, runs the tree recursion on chip and writes
        only the two output tiles. Peak memory = the two (n, m) outputs.
    cnn_gram(x, y, filters, implementation=None)   dispatcher (kernels/_dispatch.py).
    gram_bytes(n, m), check_memory(n, m, ...)      say "too large" before allocating.

Inputs: float64 (x64 enabled) or float32, first-level patches on unit spheres: the dispatcher
checks them (for concrete arrays), the two implementations do not. The two implementations run on
one device; the dispatcher distributes rows of x over jax.devices() through
runtime.sharding.shard_rows (the repository's one shard_map helper).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import pallas as pl

from kernels import cnn_tree as tree
from kernels._blocks import pow2, round_up
from kernels._dispatch import resolve
from runtime import memory
from runtime.sharding import shard_rows


# ------------------------------------------------------------------------------- memory
def gram_bytes(n: int, m: int, *, itemsize: int = 8, n_out: int = 2) -> int:
    return n * m * itemsize * n_out


def check_memory(
    n: int,
    m: int,
    *,
    itemsize: int = 8,
    n_out: int = 2,
    extra: int = 1,
    fraction: float = memory.FRACTION,
) -> None:
    """Raise MemoryError (one line) if n x m outputs (+ `extra` same-size work arrays) would not
    fit in `fraction` of the memory this process may use (runtime.memory.host_bytes). Called
    before anything is allocated."""
    need = gram_bytes(n, m, itemsize=itemsize, n_out=n_out + extra)
    have = int(fraction * memory.host_bytes())
    if need > have:
        raise MemoryError(
            f"an {n} x {m} Gram computation needs ~{need / 2**30:.1f} GiB "
            f"({n_out + extra} arrays of {itemsize}-byte entries); "
            f"{have / 2**30:.1f} GiB available ({fraction:.0%} of the memory this process may "
            "use): lower n"
        )


# ------------------------------------------------------------------------------- reference
def _tile(xb, yb, filters):
    """(NNGP, NTK) of one (tile, tile) block, patch axis leading (cnn_tree's leading form)."""
    s1 = filters[0]
    cos = jnp.einsum(
        "ips,jps->pij", xb.reshape(xb.shape[0], -1, s1), yb.reshape(yb.shape[0], -1, s1)
    )
    return tree.tree_from_leading_cosines(cos, filters)


def tile_pairs(n_row_tiles: int, n_col_tiles: int, symmetric: bool) -> np.ndarray:
    """(pairs, 2) int32 tile indices the reference computes: all of them, or for a symmetric
    Gram (x = y) the upper triangle i <= j only."""
    if symmetric:
        return np.stack(np.triu_indices(n_row_tiles), 1).astype(np.int32)
    return np.indices((n_row_tiles, n_col_tiles)).reshape(2, -1).T.astype(np.int32)


def grouped_pairs(pairs: np.ndarray, group: int) -> np.ndarray:
    """(steps, group, 2): the pairs in groups of `group`, the last group filled with repeats of
    the last pair (recomputing a tile and writing it again changes nothing)."""
    pad = (-len(pairs)) % group
    return np.concatenate([pairs, np.repeat(pairs[-1:], pad, 0)]).reshape(-1, group, 2)


@functools.partial(jax.jit, static_argnames=("filters", "tile", "group", "symmetric"))
def _reference_tiled(x, y, filters, tile, group, symmetric):
    n, m = x.shape[0], y.shape[0]
    nb, mb = -(-n // tile), -(-m // tile)
    # Padded points (cut off below) hold ones; the arc-cosines clip their cosines to [-1, 1].
    xp = jnp.pad(x, ((0, nb * tile - n), (0, 0)), constant_values=1.0)
    yp = xp if symmetric else jnp.pad(y, ((0, mb * tile - m), (0, 0)), constant_values=1.0)
    rows = jax.vmap(lambda a, i: jax.lax.dynamic_slice_in_dim(a, i * tile, tile), (None, 0))

    def step(carry, ij):  # `group` output tiles at once, written in place into the outputs
        k, th = jax.vmap(lambda a, b: _tile(a, b, filters))(rows(xp, ij[:, 0]), rows(yp, ij[:, 1]))
        k_out, t_out = carry
        for g in range(group):
            at = (ij[g, 0] * tile, ij[g, 1] * tile)
            k_out = jax.lax.dynamic_update_slice(k_out, k[g], at)
            t_out = jax.lax.dynamic_update_slice(t_out, th[g], at)
        return (k_out, t_out), None

    zeros = jnp.zeros((nb * tile, mb * tile), x.dtype)
    pairs = tile_pairs(nb, mb, symmetric)
    outs, _ = jax.lax.scan(step, (zeros, zeros), grouped_pairs(pairs, group))
    if symmetric:
        # Mirror the upper tiles into the lower ones, a pure copy in a second scan: no second
        # (n, n) array, and the symmetric and rectangular paths compute every entry with the same
        # (group, tile, tile) program, so they agree bit for bit (1 device vs rows over devices;
        # tests/kernels/test_cnn_gram.py). A transposed write fused into the first scan changed
        # XLA:CPU's code for the tile and moved ~20% of the entries in the last bit (measured).
        def mirror(carry, ij):
            i, j = ij[0] * tile, ij[1] * tile
            return tuple(
                jax.lax.dynamic_update_slice(
                    a, jax.lax.dynamic_slice(a, (i, j), (tile, tile)).T, (j, i)
                )
                for a in carry
            ), None

        outs, _ = jax.lax.scan(mirror, outs, pairs[pairs[:, 0] < pairs[:, 1]])
    return outs[0][:n, :m], outs[1][:n, :m]


def cnn_gram_reference(
    x, y, filters, *, tile: int = 128, group: int = 4, symmetric: bool | None = None
):
    """(NNGP, NTK), each (n, m), tile by tile on one device (the dispatcher shards rows).

    One `lax.scan` over groups of `group` (tile, tile) output blocks writes into the two outputs
    in place, so the working memory is a few tiles, not a (rows, m, d / s_1) block; a group
    gives XLA:CPU's elementwise loops enough work to split over cores (2 cores, n = 2048:
    0.85 -> 0.61 s from group 1 to 4-8, measured 2026-12-03). When y is x (symmetric=None
    checks identity) only the upper tiles are computed and mirrored: half the work."""
    filters = tree.check_filters(x.shape[-1], filters)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y differ in input length: {x.shape} vs {y.shape}")
    if tile < 1 or group < 1:
        raise ValueError(f"tile and group must be >= 1, got {tile}, {group}")
    symmetric = (y is x) if symmetric is None else symmetric
    if symmetric and x.shape != y.shape:
        raise ValueError(f"symmetric=True needs y = x, got shapes {x.shape} and {y.shape}")
    t = min(tile, max(x.shape[0], y.shape[0], 1))  # no padding past the larger input
    return _reference_tiled(x, y, filters, t, group, bool(symmetric))


# ------------------------------------------------------------------------------- Pallas
def _gram_tile_kernel(xt_ref, yt_ref, k_ref, t_ref, *, filters, d):
    # Inputs arrive transposed, (d_pad, block): row j of a ref is coordinate j of every point in
    # the block, a contiguous vector, so the patch cosines are outer products of loaded rows
    # (s_1 = 2..5: a K = s_1 matmul would waste the MXU / tensor cores, outer products do not).
    s1 = filters[0]
    cos = []
    for p in range(d // s1):
        c = None
        for j in range(p * s1, (p + 1) * s1):
            term = xt_ref[j, :][:, None] * yt_ref[j, :][None, :]
            c = term if c is None else c + term
        cos.append(c)
    k, th = tree.tree_from_cosine_list(cos, filters)
    k_ref[...] = k.astype(k_ref.dtype)
    t_ref[...] = th.astype(t_ref.dtype)


@functools.partial(jax.jit, static_argnames=("filters", "block_m", "block_n", "interpret"))
def _pallas(x, y, filters, block_m, block_n, interpret):
    n, d = x.shape
    m = y.shape[0]
    npad, mpad = round_up(n, block_m), round_up(m, block_n)
    dpad = pow2(d)  # GPU (Triton) blocks need power-of-two sides; padded coordinates are 0
    # Padded points (cut off below) hold ones; the arc-cosines clip their cosines to [-1, 1], so
    # they never produce NaN.
    xt = jnp.pad(x, ((0, npad - n), (0, 0)), constant_values=1.0)
    yt = jnp.pad(y, ((0, mpad - m), (0, 0)), constant_values=1.0)
    xt = jnp.pad(xt, ((0, 0), (0, dpad - d))).T
    yt = jnp.pad(yt, ((0, 0), (0, dpad - d))).T
    shape = jax.ShapeDtypeStruct((npad, mpad), x.dtype)
    k, th = pl.pallas_call(
        functools.partial(_gram_tile_kernel, filters=filters, d=d),
        out_shape=(shape, shape),
        grid=(npad // block_m, mpad // block_n),
        in_specs=[
            pl.BlockSpec((dpad, block_m), lambda i, j: (0, i)),
            pl.BlockSpec((dpad, block_n), lambda i, j: (0, j)),
        ],
        out_specs=(
            pl.BlockSpec((block_m, block_n), lambda i, j: (i, j)),
            pl.BlockSpec((block_m, block_n), lambda i, j: (i, j)),
        ),
        interpret=interpret,
    )(xt, yt)
    return k[:n, :m], th[:n, :m]


def cnn_gram_pallas(
    x, y, filters, *, block_m: int = 64, block_n: int = 64, interpret: bool = False
):
    """Fused Gram tiles on one device; see the module docstring. Returns (NNGP, NTK), (n, m)."""
    filters = tree.check_filters(x.shape[-1], filters)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y differ in input length: {x.shape} vs {y.shape}")
    return _pallas(x, y, filters, block_m, block_n, interpret)


# ------------------------------------------------------------------------------- dispatcher
def cnn_gram(x, y, filters, *, implementation: str | None = None, tile: int = 128):
    """Dispatcher: the row-blocked XLA path on CPU, the fused Pallas kernel on GPU/TPU.

    Checks first (one-line errors, nothing allocated): the filters fit the input length, the
    outputs fit in memory, and (for concrete arrays) every first-level patch has unit norm.
    """
    choice = resolve(implementation)
    check_memory(x.shape[0], y.shape[0], itemsize=jnp.dtype(x.dtype).itemsize, extra=0)
    filters = tree.check_filters(x.shape[-1], filters)
    if not isinstance(x, jax.core.Tracer) and not isinstance(y, jax.core.Tracer):
        tol = 1e-10 if jnp.dtype(x.dtype) == jnp.float64 else 1e-5
        tree.check_unit_patches(x, filters[0], atol=tol)
        tree.check_unit_patches(y, filters[0], atol=tol)
    if choice.implementation == "reference":
        # on one device shard_rows passes x and y through, so y is x keeps the symmetric path
        one_device = lambda xs, ys: cnn_gram_reference(xs, ys, filters, tile=tile)
    else:
        one_device = lambda xs, ys: cnn_gram_pallas(xs, ys, filters, interpret=choice.interpret)
    return shard_rows(one_device, x, y)  # rows of x over jax.devices()
