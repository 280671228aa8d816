"""Linear attention with the Based Taylor feature map: causal, non-causal and prefix (PLA).

Arora et al., "Just read twice: closing the recall gap for recurrent language models",
arXiv:2407.05483v1: Eq. (1) causal linear attention, Eq. (2) its recurrent (decode) view,
Eq. (3) prefix linear attention (PLA: a non-causal encoder state over the first M tokens is the
initial state of the causal scan), Eq. (4) the prefill state; App. B.3 Eq. (6)-(7) the Taylor map.

Shapes: features qf, kf (B, H, L, F) (already feature-mapped), values v (B, H, L, D). The state is
S = sum_j phi(k_j) v_j^T (B, H, F, D) with the normaliser z = sum_j phi(k_j) (B, H, F):

    y_i = phi(q_i).(S_0 + sum_{j<=i} phi(k_j) v_j^T) / (phi(q_i).(z_0 + sum_{j<=i} phi(k_j)) + eps)

Four interchangeable forms of the causal product (each returns y and the final (S, z)):
    causal_linear_attention_reference   O(L^2) masked matmul: the spec
    causal_linear_attention_scan        lax.scan over tokens: Eq. (2), O(L) steps
    causal_linear_attention_chunked     lax.scan over chunks of C tokens: quadratic inside a chunk,
                                        the state carried between chunks (XLA on any backend)
    causal_linear_attention_pallas      the chunked form as one Pallas kernel per (batch*head,
                                        value block); the state stays on chip across chunks
    causal_linear_attention(...)        dispatcher: pallas on GPU/TPU, chunked on CPU (Pallas only
                                        runs interpreted there); differentiable (the Pallas path's
                                        VJP is the chunked form's VJP, recomputed in XLA)

Accumulation is float32 whatever the input dtype (bf16 inputs keep an f32 state); y is returned in
v's dtype. Padding: `masked_features` zeroes padded positions *after* the feature map. The
authors' PLA code masks k before the map (prefix_linear_attention.py, `k.masked_fill` then
`feature_map`), so phi(0) = (1, 0, ..., 0) still adds 1 to every normaliser per padded token;
`order="before"` reproduces that for comparison.

Length limit: MAX_LEN = 2**24. The Taylor map's constant feature makes z count tokens, and float32
represents integers exactly only up to 2**24; beyond that the normaliser silently loses tokens.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from kernels._blocks import pow2, round_up
from kernels._dispatch import resolve

EPS = 1e-12  # the authors' default (based.py, prefix_linear_attention.py)
MAX_LEN = 2**24
IMPLEMENTATIONS = ("quadratic", "scan", "chunked", "pallas")
ACC = jnp.float32


# --- feature map -------------------------------------------------------------------------------


def taylor_feature_map(x, *, scale_dim: int | None = None):
    """Based's 2nd-order Taylor map (App. B.3 Eq. 6-7): (..., d) -> (..., 1 + d + d^2).

    phi(q) . phi(k) = 1 + q.k / sqrt(d) + (q.k)^2 / (2 d), the Taylor expansion of exp(q.k/sqrt d).
    The full outer product (as the authors' forward), not the d(d+1)/2 symmetric packing.
    """
    d = x.shape[-1]
    rd = math.sqrt(scale_dim or d)
    x2 = (x[..., :, None] * x[..., None, :]).reshape(*x.shape[:-1], d * d)
    one = jnp.ones(x.shape[:-1] + (1,), x.dtype)
    return jnp.concatenate([one, x / math.sqrt(rd), x2 / (math.sqrt(2.0) * rd)], axis=-1)


def taylor_feature_dim(d: int) -> int:
    return 1 + d + d * d


def masked_features(x, mask, feature_map=taylor_feature_map, *, order: str = "after"):
    """phi(x) with padded positions removed; x (B, H, L, d), mask (B, L) bool (True = keep).

    order="after" (default, correct): phi(x) * mask, so padding adds nothing to S or z.
    order="before" (the authors' PLA code): phi(x * mask); phi(0) = e_0 for the Taylor map, so
    each padded key still adds 1 to the normaliser of every later query.
    """
    m = mask[:, None, :, None].astype(x.dtype)
    if order == "after":
        return feature_map(x) * m
    if order == "before":
        return feature_map(x * m)
    raise ValueError(f"order must be 'after' or 'before', got {order!r}")


# --- checks --------------------------------------------------------------------------------------


def _check(qf, kf, v, init_state):
    if qf.ndim != 4 or kf.shape != qf.shape or v.ndim != 4 or v.shape[:3] != qf.shape[:3]:
        raise ValueError(
            f"expected qf, kf (B, H, L, F) and v (B, H, L, D) with equal B, H, L; got "
            f"{qf.shape}, {kf.shape}, {v.shape}"
        )
    if qf.shape[2] > MAX_LEN:
        raise ValueError(
            f"sequence length {qf.shape[2]} exceeds MAX_LEN = {MAX_LEN} (float32 normaliser "
            "counts tokens exactly only up to 2**24)"
        )
    if init_state is not None:
        s0, z0 = init_state
        b, h, _, f = qf.shape
        if s0.shape != (b, h, f, v.shape[3]) or z0.shape != (b, h, f):
            raise ValueError(
                f"init_state must be (S (B, H, F, D), z (B, H, F)); got {s0.shape}, {z0.shape}"
            )


def _init(qf, v, init_state):
    b, h, _, f = qf.shape
    if init_state is None:
        return jnp.zeros((b, h, f, v.shape[3]), ACC), jnp.zeros((b, h, f), ACC)
    return init_state[0].astype(ACC), init_state[1].astype(ACC)


def state_of(kf, v):
    """(S, z) = (sum_j phi(k_j) v_j^T, sum_j phi(k_j)) over the whole sequence (non-causal)."""
    kf32 = kf.astype(ACC)
    s = jnp.einsum("bhlf,bhld->bhfd", kf32, v.astype(ACC))
    return s, kf32.sum(2)


# --- the four causal forms -----------------------------------------------------------------------


def causal_linear_attention_reference(qf, kf, v, *, init_state=None, eps: float = EPS):
    """O(L^2) spec: masked (L, L) score matrix. Returns (y, (S_L, z_L))."""
    _check(qf, kf, v, init_state)
    s0, z0 = _init(qf, v, init_state)
    q, k, vv = qf.astype(ACC), kf.astype(ACC), v.astype(ACC)
    L = q.shape[2]
    a = jnp.einsum("bhlf,bhmf->bhlm", q, k) * jnp.tril(jnp.ones((1, 1, L, L), ACC))
    num = a @ vv + jnp.einsum("bhlf,bhfd->bhld", q, s0)
    den = a.sum(-1) + jnp.einsum("bhlf,bhf->bhl", q, z0)
    y = num / (den[..., None] + eps)
    s, z = state_of(kf, v)
    return y.astype(v.dtype), (s0 + s, z0 + z)


def causal_linear_attention_scan(qf, kf, v, *, init_state=None, eps: float = EPS):
    """Eq. (2) as a lax.scan over tokens: s_i = s_{i-1} + phi(k_i) v_i^T, y_i = q.s_i / q.z_i."""
    _check(qf, kf, v, init_state)
    carry0 = _init(qf, v, init_state)

    def step(carry, x):
        s, z = carry
        q, k, vv = x
        s = s + k[..., :, None] * vv[..., None, :]
        z = z + k
        y = jnp.einsum("bhf,bhfd->bhd", q, s) / (jnp.einsum("bhf,bhf->bh", q, z)[..., None] + eps)
        return (s, z), y

    xs = tuple(jnp.moveaxis(t.astype(ACC), 2, 0) for t in (qf, kf, v))
    (s, z), ys = jax.lax.scan(step, carry0, xs)
    return jnp.moveaxis(ys, 0, 2).astype(v.dtype), (s, z)


def _pad_to(x, n, axis):
    pad = [(0, 0)] * x.ndim
    pad[axis] = (0, n - x.shape[axis])
    return jnp.pad(x, pad)


def _chunk_step(q, k, vv, s, z, eps):
    """One chunk: q, k (..., C, F), vv (..., C, D), incoming state s (..., F, D), z (..., F)."""
    c = q.shape[-2]
    a = jnp.einsum("...cf,...ef->...ce", q, k)
    a = a * jnp.tril(jnp.ones((1,) * (a.ndim - 2) + (c, c), ACC))
    num = a @ vv + q @ s
    den = a.sum(-1) + jnp.einsum("...cf,...f->...c", q, z)
    y = num / (den[..., None] + eps)
    s = s + jnp.einsum("...cf,...cd->...fd", k, vv)
    z = z + k.sum(-2)
    return y, s, z


def causal_linear_attention_chunked(
    qf, kf, v, *, chunk: int = 64, init_state=None, eps: float = EPS
):
    """Chunkwise form: lax.scan over L/C chunks; inside a chunk the masked (C, C) product, across
    chunks the carried state. O(L C F D) work, O(F D) state. L need not be a multiple of C
    (zero-padded keys add nothing; padded queries are dropped)."""
    _check(qf, kf, v, init_state)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    carry0 = _init(qf, v, init_state)
    L = qf.shape[2]
    n = round_up(L, chunk) // chunk

    def split(t):
        t = _pad_to(t.astype(ACC), n * chunk, 2)
        return jnp.moveaxis(t.reshape(*t.shape[:2], n, chunk, t.shape[-1]), 2, 0)

    def step(carry, x):
        y, s, z = _chunk_step(*x, *carry, eps)
        return (s, z), y

    (s, z), ys = jax.lax.scan(step, carry0, (split(qf), split(kf), split(v)))
    y = jnp.moveaxis(ys, 0, 2)
    y = y.reshape(*y.shape[:2], n * chunk, y.shape[-1])[:, :, :L]
    return y.astype(v.dtype), (s, z)


# --- Pallas --------------------------------------------------------------------------------


def _la_kernel(q_ref, k_ref, v_ref, s0_ref, z0_ref, y_ref, s_ref, z_ref, *, chunk, n_chunks, eps):
    """One (batch*head, value-block) program: loop over chunks with the state on chip."""
    c = chunk
    tril = (
        jax.lax.broadcasted_iota(jnp.int32, (c, c), 0)
        >= jax.lax.broadcasted_iota(jnp.int32, (c, c), 1)
    ).astype(ACC)

    def body(i, carry):
        s, z = carry  # (F, Dblk), (1, F)
        rows = pl.ds(i * c, c)
        q = q_ref[rows, :].astype(ACC)  # (C, F)
        k = k_ref[rows, :].astype(ACC)
        vv = v_ref[rows, :].astype(ACC)  # (C, Dblk)
        a = jnp.dot(q, k.T, preferred_element_type=ACC) * tril
        num = jnp.dot(a, vv, preferred_element_type=ACC) + jnp.dot(q, s, preferred_element_type=ACC)
        den = jnp.sum(a, axis=1, keepdims=True) + jnp.sum(q * z, axis=1, keepdims=True)
        y_ref[rows, :] = (num / (den + eps)).astype(y_ref.dtype)
        s = s + jnp.dot(k.T, vv, preferred_element_type=ACC)
        z = z + jnp.sum(k, axis=0, keepdims=True)
        return s, z

    s, z = jax.lax.fori_loop(0, n_chunks, body, (s0_ref[...].astype(ACC), z0_ref[...].astype(ACC)))
    s_ref[...] = s
    z_ref[...] = z


@functools.partial(jax.jit, static_argnames=("chunk", "block_d", "eps", "interpret"))
def causal_linear_attention_pallas(
    qf,
    kf,
    v,
    *,
    init_state=None,
    chunk: int = 64,
    block_d: int = 64,
    eps: float = EPS,
    interpret: bool = False,
):
    """Chunked causal linear attention as a Pallas kernel. Grid (B*H, D/block_d); each program
    walks the chunks of its sequence in order, keeping its (F, block_d) slice of the state and the
    normaliser in registers/shared memory. F, chunk and block_d are padded to powers of two >= 16
    (zero features and zero values change nothing). Returns (y, (S, z))."""
    _check(qf, kf, v, init_state)
    b, h, L, f = qf.shape
    d = v.shape[3]
    s0, z0 = _init(qf, v, init_state)
    # Triton's dot needs every dimension >= 16: pad F, the chunk and the value block up to it
    c = max(16, pow2(chunk))
    fp, bd = max(16, pow2(f)), max(16, min(pow2(block_d), pow2(d)))
    dp, lp = round_up(d, bd), round_up(L, c)

    def flat(t, width):
        return _pad_to(_pad_to(t.reshape(b * h, L, t.shape[-1]), lp, 1), width, 2)

    q2, k2, v2 = flat(qf, fp), flat(kf, fp), flat(v, dp)
    s02 = _pad_to(_pad_to(s0.reshape(b * h, f, d), fp, 1), dp, 2)
    z02 = _pad_to(z0.reshape(b * h, 1, f), fp, 2)
    y, s, z = pl.pallas_call(
        functools.partial(_la_kernel, chunk=c, n_chunks=lp // c, eps=eps),
        out_shape=(
            jax.ShapeDtypeStruct((b * h, lp, dp), v.dtype),
            jax.ShapeDtypeStruct((b * h, fp, dp), ACC),
            jax.ShapeDtypeStruct((b * h, dp // bd, fp), ACC),
        ),
        grid=(b * h, dp // bd),
        in_specs=[
            pl.BlockSpec((None, lp, fp), lambda i, j: (i, 0, 0)),
            pl.BlockSpec((None, lp, fp), lambda i, j: (i, 0, 0)),
            pl.BlockSpec((None, lp, bd), lambda i, j: (i, 0, j)),
            pl.BlockSpec((None, fp, bd), lambda i, j: (i, 0, j)),
            pl.BlockSpec((None, 1, fp), lambda i, j: (i, 0, 0)),
        ],
        out_specs=(
            pl.BlockSpec((None, lp, bd), lambda i, j: (i, 0, j)),
            pl.BlockSpec((None, fp, bd), lambda i, j: (i, 0, j)),
            pl.BlockSpec((None, 1, fp), lambda i, j: (i, j, 0)),
        ),
        interpret=interpret,
    )(q2, k2, v2, s02, z02)
    y = y[:, :L, :d].reshape(b, h, L, d)
    s = s[:, :f, :d].reshape(b, h, f, d)
    z = z[:, 0, :f].reshape(b, h, f)  # every value block carries the same normaliser
    return y, (s, z)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6, 7))
def _pallas_diff(qf, kf, v, s0, z0, chunk, eps, interpret):
    return causal_linear_attention_pallas(
        qf, kf, v, init_state=(s0, z0), chunk=chunk, eps=eps, interpret=interpret
    )


def _pallas_fwd(qf, kf, v, s0, z0, chunk, eps, interpret):
    out = _pallas_diff(qf, kf, v, s0, z0, chunk, eps, interpret)
    return out, (qf, kf, v, s0, z0)


def _pallas_bwd(chunk, eps, interpret, res, g):
    qf, kf, v, s0, z0 = res

    def f(qf, kf, v, s0, z0):
        return causal_linear_attention_chunked(qf, kf, v, chunk=chunk, init_state=(s0, z0), eps=eps)

    _, vjp = jax.vjp(f, qf, kf, v, s0, z0)
    return vjp(g)


_pallas_diff.defvjp(_pallas_fwd, _pallas_bwd)


def causal_linear_attention(
    qf,
    kf,
    v,
    *,
    init_state=None,
    chunk: int = 64,
    eps: float = EPS,
    implementation: str | None = None,
):
    """Dispatcher. implementation: None (pallas on GPU/TPU, chunked on CPU), or one of
    IMPLEMENTATIONS; "pallas" on CPU runs interpreted. Returns (y, (S, z))."""
    if implementation is None:
        implementation = "chunked" if resolve(None).implementation == "reference" else "pallas"
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {IMPLEMENTATIONS} or None")
    if implementation == "quadratic":
        return causal_linear_attention_reference(qf, kf, v, init_state=init_state, eps=eps)
    if implementation == "scan":
        return causal_linear_attention_scan(qf, kf, v, init_state=init_state, eps=eps)
    if implementation == "chunked":
        return causal_linear_attention_chunked(
            qf, kf, v, chunk=chunk, init_state=init_state, eps=eps
        )
    _check(qf, kf, v, init_state)
    s0, z0 = _init(qf, v, init_state)
    return _pallas_diff(qf, kf, v, s0, z0, chunk, eps, resolve("pallas").interpret)


# --- non-causal, prefix (PLA) and the recurrent view ----------------------------------------


def noncausal_linear_attention(qf, kf, v, *, init_state=None, eps: float = EPS):
    """Every query sees every key: the causal cumsum replaced by a sum (the paper's non-causal
    Based). Returns (y, (S, z))."""
    _check(qf, kf, v, init_state)
    s0, z0 = _init(qf, v, init_state)
    s, z = state_of(kf, v)
    s, z = s0 + s, z0 + z
    q = qf.astype(ACC)
    num = jnp.einsum("bhlf,bhfd->bhld", q, s)
    den = jnp.einsum("bhlf,bhf->bhl", q, z)
    return (num / (den[..., None] + eps)).astype(v.dtype), (s, z)


def prefix_linear_attention(qf, kf_dec, v_dec, kf_enc, v_enc, *, eps: float = EPS, **dispatch):
    """Eq. (3): y_i = phi(q_i)(sum_{j<=i} phi(kd_j) vd_j^T + sum_{j<=M} phi(ke_j) ve_j^T) / (same
    with v -> 1). The encoder sum (non-causal over its M tokens, separate projections k_e, v_e) is
    the initial state of the causal decoder scan. Pass masked features (masked_features) for
    padded encoders. Returns (y, (S, z)) with the final state = Eq. (4) when L = M."""
    init = state_of(kf_enc, v_enc)
    return causal_linear_attention(qf, kf_dec, v_dec, init_state=init, eps=eps, **dispatch)


def pla_prefill_state(kf_dec, v_dec, kf_enc, v_enc):
    """Eq. (4): s_M = sum_{j<=M} (phi(ke_j) ve_j^T + phi(kd_j) vd_j^T), z_M likewise."""
    se, ze = state_of(kf_enc, v_enc)
    sd, zd = state_of(kf_dec, v_dec)
    return se + sd, ze + zd


def decode_step(state, qf_t, kf_t, v_t, *, eps: float = EPS):
    """Eq. (2), one token: qf_t, kf_t (B, H, F), v_t (B, H, D). Returns (y_t, new state)."""
    s, z = state
    s = s + kf_t.astype(ACC)[..., :, None] * v_t.astype(ACC)[..., None, :]
    z = z + kf_t.astype(ACC)
    q = qf_t.astype(ACC)
    y = jnp.einsum("bhf,bhfd->bhd", q, s) / (jnp.einsum("bhf,bhf->bh", q, z)[..., None] + eps)
    return y.astype(v_t.dtype), (s, z)
