"""Log-space matrix product: out[i, j] = log sum_k exp(a[i, k] + b[k, j]).

The hot loop of probabilistic-circuit layers (sum nodes over log-probabilities) and of HMM/CRF
forward passes. Computed stably by shifting each k-chunk by its row max of `a` and column max of
`b`, so the inner product is an ordinary matmul of numbers in [0, 1] (tensor cores on GPU), with an
online rescaling across k-chunks as in flash attention. -inf entries (log 0) are allowed; a row or
column that is -inf everywhere gives -inf.

    logmatmul_reference(a, b)   plain jnp, float32 accumulation: the spec
    logmatmul_pallas(a, b, *, block_m, block_n, block_k, interpret)
    logmatmul(a, b, implementation=None)   dispatcher (kernels/_dispatch.py); differentiable: the
        Pallas path's VJP is the reference's VJP (recomputed in XLA).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from kernels._blocks import round_up
from kernels._dispatch import resolve


def _finite_or_zero(m):
    return jnp.where(jnp.isfinite(m), m, 0.0)


def logmatmul_reference(a, b):
    """log(exp(a) @ exp(b)) with max shifts; a: (M, K), b: (K, N) -> (M, N) in a's dtype.

    Accumulates in float32 for bf16/f32 inputs and in float64 for float64 inputs.
    """
    acc = jnp.promote_types(a.dtype, jnp.float32)
    a32, b32 = a.astype(acc), b.astype(acc)
    ma = _finite_or_zero(jnp.max(a32, axis=1, keepdims=True))  # (M, 1)
    mb = _finite_or_zero(jnp.max(b32, axis=0, keepdims=True))  # (1, N)
    s = jnp.dot(jnp.exp(a32 - ma), jnp.exp(b32 - mb), preferred_element_type=acc)
    return (jnp.log(s) + ma + mb).astype(a.dtype)


def _logmatmul_kernel(a_ref, b_ref, o_ref, *, block_k: int, n_k: int):
    bm, bn = o_ref.shape

    def body(c, carry):
        m, acc = carry
        a = a_ref[:, pl.ds(c * block_k, block_k)].astype(jnp.float32)  # (bm, bk)
        b = b_ref[pl.ds(c * block_k, block_k), :].astype(jnp.float32)  # (bk, bn)
        ma = _finite_or_zero(jnp.max(a, axis=1, keepdims=True))
        mb = _finite_or_zero(jnp.max(b, axis=0, keepdims=True))
        s = ma + mb  # (bm, bn) shift of this chunk
        part = jnp.dot(jnp.exp(a - ma), jnp.exp(b - mb), preferred_element_type=jnp.float32)
        m_new = jnp.maximum(m, s)
        acc = acc * jnp.exp(m - m_new) + part * jnp.exp(s - m_new)
        return m_new, acc

    m0 = jnp.full((bm, bn), -1e30, jnp.float32)  # finite floor: exp(m0 - m_new) stays defined
    acc0 = jnp.zeros((bm, bn), jnp.float32)
    m, acc = jax.lax.fori_loop(0, n_k, body, (m0, acc0))
    o_ref[...] = (jnp.log(acc) + m).astype(o_ref.dtype)


@functools.partial(jax.jit, static_argnames=("block_m", "block_n", "block_k", "interpret"))
def logmatmul_pallas(
    a, b, *, block_m: int = 32, block_n: int = 32, block_k: int = 32, interpret: bool = False
):
    """Pallas kernel: grid over (M/block_m, N/block_n) output tiles, k-chunks looped in-kernel.

    Inputs are padded with -inf (log 0) to block multiples, which adds nothing to any sum.
    """
    M, K = a.shape
    K2, N = b.shape
    if K != K2:
        raise ValueError(f"inner dimensions differ: a {a.shape}, b {b.shape}")
    Mp, Np, Kp = round_up(M, block_m), round_up(N, block_n), round_up(K, block_k)
    a_p = jnp.pad(a, ((0, Mp - M), (0, Kp - K)), constant_values=-jnp.inf)
    b_p = jnp.pad(b, ((0, Kp - K), (0, Np - N)), constant_values=-jnp.inf)
    out = pl.pallas_call(
        functools.partial(_logmatmul_kernel, block_k=block_k, n_k=Kp // block_k),
        out_shape=jax.ShapeDtypeStruct((Mp, Np), a.dtype),
        grid=(Mp // block_m, Np // block_n),
        in_specs=[
            pl.BlockSpec((block_m, Kp), lambda i, j: (i, 0)),
            pl.BlockSpec((Kp, block_n), lambda i, j: (0, j)),
        ],
        out_specs=pl.BlockSpec((block_m, block_n), lambda i, j: (i, j)),
        interpret=interpret,
    )(a_p, b_p)
    return out[:M, :N]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _pallas_with_reference_vjp(a, b, interpret):
    return logmatmul_pallas(a, b, interpret=interpret)


def _fwd(a, b, interpret):
    return logmatmul_pallas(a, b, interpret=interpret), (a, b)


def _bwd(interpret, res, g):
    a, b = res
    _, vjp = jax.vjp(logmatmul_reference, a, b)
    return vjp(g)


_pallas_with_reference_vjp.defvjp(_fwd, _bwd)


def logmatmul(a, b, *, implementation: str | None = None):
    """Dispatcher: reference on CPU unless implementation="pallas" (then interpreted)."""
    choice = resolve(implementation)
    if choice.implementation == "reference":
        return logmatmul_reference(a, b)
    return _pallas_with_reference_vjp(a, b, choice.interpret)
