"""CNN Gram tiles: reference (row-blocked) and Pallas against an independent NumPy recursion."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernels import cnn_gram as G
from tests._asserts import allowance_s
from tests.kernels.harness import gpu, needs_gpu
from theory import cnn_kernels as ck

PAPER = "cagnetta2023_wide_cnn"  # the paper this module's time is charged to (conftest)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _numpy_kernels(x, y, filters):
    """Entry by entry, recursion over the tree as nested Python calls (float64)."""

    def k0(t):
        return 1 - np.arccos(np.clip(t, -1, 1)) / np.pi

    def k1(t):
        t = np.clip(t, -1, 1)
        return (np.sqrt(1 - t * t) + (np.pi - np.arccos(t)) * t) / np.pi

    def node(a, b, level):  # (nngp, ntk) of one level-`level` node on inputs a, b
        if level == 1:
            c = float(a @ b)
            return c, c
        s = filters[level - 1]
        w = len(a) // s
        outs = [node(a[i * w : (i + 1) * w], b[i * w : (i + 1) * w], level - 1) for i in range(s)]
        return (np.mean([k1(k) for k, _ in outs]), np.mean([k1(k) + k0(k) * t for k, t in outs]))

    L = len(filters)
    rf = math.prod(filters)
    K = np.zeros((len(x), len(y)))
    T = np.zeros((len(x), len(y)))
    for i, a in enumerate(x):
        for j, b in enumerate(y):
            tops = [
                node(a[p * rf : (p + 1) * rf], b[p * rf : (p + 1) * rf], L)
                for p in range(len(a) // rf)
            ]
            K[i, j] = np.mean([k1(k) for k, _ in tops])
            T[i, j] = np.mean([k1(k) + k0(k) * t for k, t in tops])
    return K, T


CASES = [((2, 2, 2), 8, 5, 3), ((3, 3), 9, 33, 17), ((2, 3), 12, 16, 16), ((2,), 6, 40, 70)]


@pytest.mark.parametrize("impl", ["reference", "pallas"])
@pytest.mark.parametrize("filters, d, n, m", CASES)
def test_gram_matches_independent_recursion(x64, impl, filters, d, n, m):
    x = ck.sample_product_of_spheres(jax.random.key(n), n, d, filters[0])
    y = ck.sample_product_of_spheres(jax.random.key(m + 1000), m, d, filters[0])
    want_k, want_t = _numpy_kernels(np.asarray(x), np.asarray(y), filters)
    if impl == "reference":
        k, t = G.cnn_gram_reference(x, y, filters, tile=4)  # tiles not dividing n or m
    else:
        k, t = G.cnn_gram_pallas(x, y, filters, block_m=16, block_n=8, interpret=True)
    # float64 off the diagonal (x != y): rounding only
    np.testing.assert_allclose(k, want_k, atol=1e-13)
    np.testing.assert_allclose(t, want_t, atol=1e-12)


@pytest.mark.parametrize("filters, d, n", [((2, 2, 2, 2), 16, 37), ((3, 3), 9, 20)])
def test_symmetric_tiles_equal_the_rectangular_path_bit_for_bit(x64, filters, d, n):
    """y = x computes the upper tiles only and mirrors them: every entry must equal the
    rectangular scan's exactly, not within a tolerance, so the experiments' results do not
    depend on which path ran (1 device: symmetric; rows sharded over devices: rectangular). The
    materialised form compiles to other loops (other vector/scalar splits of the arc-cosines):
    within float64 rounding of it. The patch-leading tree equals the patch-last one."""
    x = ck.sample_product_of_spheres(jax.random.key(n), n, d, filters[0])
    for group in (1, 3):  # 37 rows, tile 8: 5 tiles, the last one padded; 15 pairs, 3 | 15
        sym = G.cnn_gram_reference(x, x, filters, tile=8, group=group)
        rect = G.cnn_gram_reference(x, x, filters, tile=8, group=group, symmetric=False)
        for a, b in zip(sym, rect, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            np.testing.assert_array_equal(np.asarray(a), np.asarray(a).T)
    full = jax.jit(ck.cnn_kernels, static_argnums=2)(x, x, filters)
    np.testing.assert_allclose(sym[0], full[0], rtol=0, atol=1e-13)  # as the NumPy recursion
    np.testing.assert_allclose(sym[1], full[1], rtol=0, atol=1e-12)
    cos = G.tree.patch_cosines(x, x, filters[0])
    last = jax.jit(G.tree.tree_from_cosines, static_argnums=1)(cos, filters)
    lead = jax.jit(G.tree.tree_from_leading_cosines, static_argnums=1)(
        jnp.moveaxis(cos, -1, 0), filters
    )
    for a, b in zip(last, lead, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="symmetric=True needs y = x"):
        G.cnn_gram_reference(x, x[:5], filters, symmetric=True)


def test_tile_pairs_cover_the_output_once():
    assert G.tile_pairs(2, 3, False).tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    assert G.tile_pairs(3, 3, True).tolist() == [[0, 0], [0, 1], [0, 2], [1, 1], [1, 2], [2, 2]]
    g = G.grouped_pairs(G.tile_pairs(3, 3, True), 4)  # 6 pairs -> 2 groups, 2 repeats of (2, 2)
    assert g.shape == (2, 4, 2) and g[1].tolist() == [[1, 2], [2, 2], [2, 2], [2, 2]]


def test_float32_pallas_within_float32_error():
    """float32 inputs: patch cosines carry ~d eps32 error; kappa_0 amplifies an error e near
    t = 1 to ~sqrt(e); random points stay away from t = 1, where the derivative of kappa_0 is
    1 / (pi sqrt(1 - t^2)) <= ~10 for |t| < 0.9995: tolerance 1e-4 x (L + 1)."""
    f = (2, 2, 2)
    with jax.enable_x64(True):
        x = ck.sample_product_of_spheres(jax.random.key(0), 20, 8, 2)
        y = ck.sample_product_of_spheres(jax.random.key(1), 12, 8, 2)
        want = ck.cnn_kernels(x, y, f)
    k, t = G.cnn_gram_pallas(
        jnp.asarray(x, jnp.float32),
        jnp.asarray(y, jnp.float32),
        f,
        block_m=8,
        block_n=8,
        interpret=True,
    )
    assert k.dtype == jnp.float32
    np.testing.assert_allclose(k, want[0], atol=1e-4 * 4)
    np.testing.assert_allclose(t, want[1], atol=1e-4 * 4)


def test_dispatcher_checks_before_allocating(x64):
    x = ck.sample_product_of_spheres(jax.random.key(0), 4, 8, 2)
    k, _ = G.cnn_gram(x, x, (2, 2, 2))
    assert k.shape == (4, 4)
    with pytest.raises(ValueError, match="does not divide"):
        G.cnn_gram(x, x, (3,))
    with pytest.raises(ValueError, match="unit sphere"):
        G.cnn_gram(2 * x, x, (2, 2, 2))
    with pytest.raises(MemoryError, match="GiB"):
        G.check_memory(10**7, 10**7)


# 32 s in a cold `make test` (2026-12-02): a 4-device subprocess
@pytest.mark.budget(allowance_s(32))
def test_rows_sharded_over_four_devices_give_the_same_gram():
    """The dispatcher shards the rows of x over 4 simulated devices for both implementations
    (runtime.sharding.shard_rows; 37 rows: padded to 40)."""
    code = (
        "import jax, numpy as np; jax.config.update('jax_enable_x64', True);"
        "from theory import cnn_kernels as ck; from kernels import cnn_gram as G;"
        "assert len(jax.devices()) == 4;"
        "x = ck.sample_product_of_spheres(jax.random.key(0), 37, 8, 2);"
        "y = ck.sample_product_of_spheres(jax.random.key(1), 11, 8, 2);"
        "k0, t0 = ck.cnn_kernels(x, y, (2, 2, 2));"
        "k, t = G.cnn_gram(x, y, (2, 2, 2), implementation='reference', tile=4);"
        "kp, tp = G.cnn_gram(x, y, (2, 2, 2), implementation='pallas');"
        "print(max(float(np.abs(a - b).max()) for a, b in ((k, k0), (kp, k0))),"
        "      max(float(np.abs(a - b).max()) for a, b in ((t, t0), (tp, t0))))"
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", PYTHONPATH=ROOT)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    dk, dt = map(float, out.stdout.split())
    assert dk < 1e-13 and dt < 1e-12


@gpu
@needs_gpu
@pytest.mark.parametrize("filters, d", [((2, 2, 2, 2), 16), ((3, 3, 3), 27)])
def test_compiled_pallas_on_gpu(filters, d):
    with jax.enable_x64(True):
        x = ck.sample_product_of_spheres(jax.random.key(0), 300, d, filters[0])
        want = G.cnn_gram_reference(x, x, filters)
        got = G.cnn_gram_pallas(x, x, filters)
        off = ~np.eye(300, dtype=bool)
        np.testing.assert_allclose(np.asarray(got[0])[off], np.asarray(want[0])[off], atol=1e-12)
        np.testing.assert_allclose(np.asarray(got[1])[off], np.asarray(want[1])[off], atol=1e-11)
