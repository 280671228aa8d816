"""Linear-attention kernels vs an independent float64 formula (the Taylor kernel written out,
no feature map): values, final states and gradients, across implementations, chunk sizes,
lengths that are not a multiple of the chunk, batch and heads, f32 and bf16."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernels import linear_attention as LA
from tests._asserts import sampled_grid
from tests.kernels.harness import gpu, needs_gpu

PAPER = "arora2024_jrt"  # the paper this module's time is charged to (conftest)

IMPLS = ["quadratic", "scan", "chunked", "pallas"]
# (B, H, L, d, D): one token; L < chunk; L not a multiple of 8 or 16; several chunks, 2 heads
SHAPES = [(1, 1, 1, 2, 3), (2, 1, 5, 3, 4), (1, 2, 37, 4, 5), (2, 2, 64, 2, 8)]
# float32: ~1e-6 relative per accumulated product, L <= 64 terms -> 1e-4 headroom. bf16: the
# features phi(q), phi(k) are formed in bf16 (relative rounding 2^-8 = 4e-3 per entry) and y is
# rounded to bf16 again; the f32 state keeps sums from adding more, so 1e-2 (2.5 roundings)
TOL = {jnp.float32: 1e-4, jnp.bfloat16: 1e-2}


def taylor_kernel64(q, k):
    d = q.shape[-1]
    s = q @ k.T
    return 1.0 + s / np.sqrt(d) + s**2 / (2.0 * d)


def expected(q, k, v, *, causal=True, k_enc=None, v_enc=None):
    """float64 loops over (b, h): y_i = sum_j K(q_i, k_j) v_j / sum_j K(q_i, k_j)."""
    q, k, v = (np.asarray(t, np.float64) for t in (q, k, v))
    B, H, L, _ = q.shape
    y = np.zeros(v.shape)
    for b in range(B):
        for h in range(H):
            kk = taylor_kernel64(q[b, h], k[b, h])
            if causal:
                kk = np.tril(kk)
            num, den = kk @ v[b, h], kk.sum(1)
            if k_enc is not None:
                ke = taylor_kernel64(q[b, h], np.asarray(k_enc, np.float64)[b, h])
                num = num + ke @ np.asarray(v_enc, np.float64)[b, h]
                den = den + ke.sum(1)
            y[b, h] = num / den[:, None]
    return y


def inputs(shape, dtype, seed=0):
    B, H, L, d, D = shape
    kq, kk, kv = jax.random.split(jax.random.key(seed), 3)
    q = (0.7 * jax.random.normal(kq, (B, H, L, d))).astype(dtype)
    k = (0.7 * jax.random.normal(kk, (B, H, L, d))).astype(dtype)
    v = jax.random.normal(kv, (B, H, L, D)).astype(dtype)
    return q, k, v


# implementations x shapes x dtypes = 32 cases (each a fresh compile); the fast suite runs a
# deterministic 8 covering every implementation (make test-slow the rest)
@pytest.mark.parametrize(
    "impl,shape,dtype",
    sampled_grid(list(itertools.product(IMPLS, SHAPES, [jnp.float32, jnp.bfloat16])), 8),
)
def test_causal_matches_formula(impl, shape, dtype):
    q, k, v = inputs(shape, dtype)
    y, (s, z) = LA.causal_linear_attention(
        LA.taylor_feature_map(q), LA.taylor_feature_map(k), v, chunk=16, implementation=impl
    )
    assert y.dtype == dtype and s.dtype == jnp.float32
    want = expected(q.astype(jnp.float32), k.astype(jnp.float32), v.astype(jnp.float32))
    np.testing.assert_allclose(np.asarray(y, np.float64), want, rtol=TOL[dtype], atol=TOL[dtype])
    # the state from the features as given (in the input dtype): checks the f32 accumulation
    kf = np.asarray(LA.taylor_feature_map(k), np.float64)
    np.testing.assert_allclose(
        np.asarray(s),
        np.einsum("bhlf,bhld->bhfd", kf, np.asarray(v, np.float64)),
        rtol=1e-4,
        atol=1e-4,
    )
    np.testing.assert_allclose(np.asarray(z), kf.sum(2), rtol=1e-4, atol=1e-4)


def test_feature_map_is_the_taylor_kernel():
    q, k, _ = inputs((1, 1, 9, 5, 1), jnp.float32)
    got = np.einsum("lf,mf->lm", LA.taylor_feature_map(q)[0, 0], LA.taylor_feature_map(k)[0, 0])
    np.testing.assert_allclose(
        got, taylor_kernel64(np.asarray(q[0, 0]), np.asarray(k[0, 0])), rtol=1e-5
    )
    assert LA.taylor_feature_dim(16) == 273  # App. B.3: "dimension 273 if d = 16"


@pytest.mark.parametrize(
    "chunk,impl", sampled_grid(list(itertools.product([1, 3, 8, 16, 64], ["chunked", "pallas"])), 4)
)
def test_chunk_sizes_agree(chunk, impl):
    q, k, v = inputs((2, 2, 29, 3, 4), jnp.float32, seed=1)
    qf, kf = LA.taylor_feature_map(q), LA.taylor_feature_map(k)
    ref, (s_ref, _) = LA.causal_linear_attention_reference(qf, kf, v)
    y, (s, _) = LA.causal_linear_attention(qf, kf, v, chunk=chunk, implementation=impl)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(s, s_ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("impl", IMPLS)
def test_gradients_match_reference(impl):
    q, k, v = inputs((1, 2, 21, 3, 4), jnp.float32, seed=2)
    w = jax.random.normal(jax.random.key(9), (1, 2, 21, 4))

    def loss(q, k, v, impl):
        y, (s, _) = LA.causal_linear_attention(
            LA.taylor_feature_map(q), LA.taylor_feature_map(k), v, chunk=8, implementation=impl
        )
        return jnp.sum(y * w) + 1e-3 * jnp.sum(s)

    g = jax.grad(loss, argnums=(0, 1, 2))(q, k, v, impl)
    g_ref = jax.grad(loss, argnums=(0, 1, 2))(q, k, v, "quadratic")
    for a, b in zip(g, g_ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("impl", IMPLS)
def test_init_state_continues_a_split_sequence(impl):
    """Running the first half, then the second half from its final state = one full run."""
    q, k, v = inputs((1, 2, 30, 3, 4), jnp.float32, seed=3)
    qf, kf = LA.taylor_feature_map(q), LA.taylor_feature_map(k)
    full, st_full = LA.causal_linear_attention(qf, kf, v, chunk=8, implementation=impl)
    a, st = LA.causal_linear_attention(
        qf[:, :, :13], kf[:, :, :13], v[:, :, :13], chunk=8, implementation=impl
    )
    b, st2 = LA.causal_linear_attention(
        qf[:, :, 13:], kf[:, :, 13:], v[:, :, 13:], chunk=8, init_state=st, implementation=impl
    )
    np.testing.assert_allclose(jnp.concatenate([a, b], 2), full, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(st2[0], st_full[0], rtol=1e-5, atol=1e-5)


def test_noncausal_matches_formula():
    q, k, v = inputs((2, 2, 11, 3, 4), jnp.float32, seed=4)
    y, _ = LA.noncausal_linear_attention(LA.taylor_feature_map(q), LA.taylor_feature_map(k), v)
    np.testing.assert_allclose(y, expected(q, k, v, causal=False), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("impl", ["quadratic", "chunked", "pallas"])
def test_prefix_linear_attention_eq3_and_prefill_decode_eq4(impl):
    """Eq. (3) against the formula; Eq. (4) prefill state + Eq. (2) decode steps = Eq. (3)."""
    B, H, M, d, D = 2, 2, 12, 3, 4
    q, kd, vd = inputs((B, H, M + 5, d, D), jnp.float32, seed=5)
    _, ke, ve = inputs((B, H, M, d, D), jnp.float32, seed=6)
    phi = LA.taylor_feature_map
    y, _ = LA.prefix_linear_attention(
        phi(q), phi(kd), vd, phi(ke), ve, chunk=8, implementation=impl
    )
    np.testing.assert_allclose(y, expected(q, kd, vd, k_enc=ke, v_enc=ve), rtol=1e-4, atol=1e-5)
    # prefill the first M tokens (Eq. 4), then decode tokens M..M+4 one at a time (Eq. 2)
    state = LA.pla_prefill_state(phi(kd[:, :, :M]), vd[:, :, :M], phi(ke), ve)
    for t in range(M, M + 5):
        yt, state = LA.decode_step(state, phi(q[:, :, t]), phi(kd[:, :, t]), vd[:, :, t])
        np.testing.assert_allclose(yt, y[:, :, t], rtol=1e-4, atol=1e-5)


def test_padding_masked_after_the_feature_map():
    """Left-padded encoder: masking after phi = the unpadded run; masking before phi (the authors'
    code) leaks phi(0) = e_0 into every normaliser."""
    B, H, M, pad, d, D = 1, 1, 10, 6, 3, 2
    q, kd, vd = inputs((B, H, M, d, D), jnp.float32, seed=7)
    _, ke, ve = inputs((B, H, M, d, D), jnp.float32, seed=8)
    mask = jnp.arange(M)[None, :] >= pad  # left padding: the first `pad` slots are empty
    ve_m = ve * mask[:, None, :, None]
    phi = LA.taylor_feature_map
    y_after, _ = LA.prefix_linear_attention(phi(q), phi(kd), vd, LA.masked_features(ke, mask), ve_m)
    y_unpadded, _ = LA.prefix_linear_attention(
        phi(q), phi(kd), vd, phi(ke[:, :, pad:]), ve[:, :, pad:]
    )
    np.testing.assert_allclose(y_after, y_unpadded, rtol=1e-5, atol=1e-6)
    y_before, (_, z) = LA.prefix_linear_attention(
        phi(q), phi(kd), vd, LA.masked_features(ke, mask, order="before"), ve_m
    )
    _, (_, z_after) = LA.prefix_linear_attention(
        phi(q), phi(kd), vd, LA.masked_features(ke, mask), ve_m
    )
    assert float(z[0, 0, 0] - z_after[0, 0, 0]) == pad  # one count of the constant per pad
    assert float(jnp.max(jnp.abs(y_before - y_after))) > 1e-3


def test_bad_input_is_a_clear_error():
    q, k, v = inputs((1, 1, 4, 2, 3), jnp.float32)
    qf = LA.taylor_feature_map(q)
    with pytest.raises(ValueError, match="expected qf, kf"):
        LA.causal_linear_attention(qf, qf[:, :, :3], v)
    with pytest.raises(ValueError, match="implementation"):
        LA.causal_linear_attention(qf, qf, v, implementation="cuda")
    long = jax.ShapeDtypeStruct((1, 1, LA.MAX_LEN + 1, 7), jnp.float32)
    with pytest.raises(ValueError, match="MAX_LEN"):
        jax.eval_shape(
            lambda a, b: LA.causal_linear_attention(a, a, b),
            long,
            jax.ShapeDtypeStruct((1, 1, LA.MAX_LEN + 1, 3), jnp.float32),
        )
    with pytest.raises(ValueError, match="order"):
        LA.masked_features(q, jnp.ones((1, 4), bool), order="sideways")


@gpu
@needs_gpu
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_pallas_compiled_on_gpu(dtype):
    q, k, v = inputs((2, 2, 300, 16, 64), dtype, seed=10)
    qf, kf = LA.taylor_feature_map(q), LA.taylor_feature_map(k)
    y, _ = LA.causal_linear_attention_pallas(qf, kf, v)
    ref, _ = LA.causal_linear_attention_chunked(qf, kf, v)
    np.testing.assert_allclose(
        np.asarray(y, np.float32), np.asarray(ref, np.float32), rtol=TOL[dtype], atol=TOL[dtype]
    )


def test_xla_cpu_ynn_fusion_workaround_in_force():
    """jaxlib 0.10.2's XLA:CPU ynn fusion returned ~1e30 for the jitted O(L^2) form at L = 2048
    (runtime/xla_flags.py). With the fusions off, jit = the chunked form."""
    import os

    assert "xla_cpu_experimental_ynn_fusion_type" in os.environ.get("XLA_FLAGS", "")
    q, k, v = inputs((1, 2, 2048, 16, 64), jnp.float32, seed=11)
    qf, kf = LA.taylor_feature_map(q / 2), LA.taylor_feature_map(k / 2)
    y = jax.jit(lambda a, b, c: LA.causal_linear_attention_reference(a, b, c)[0])(qf, kf, v)
    ref, _ = LA.causal_linear_attention_chunked(qf, kf, v)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
