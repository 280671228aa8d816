"""Per-token negative log-likelihood through a tied output head, fused:

    nll[i] = logsumexp_v(h[i] . w[v]) - h[i] . w[t[i]]

the scoring hot loop of a language model (recognition tests score every sentence's tokens; a
vocabulary of V entries makes the (N, V) logits the largest array of the pass). The kernel streams
the vocabulary in chunks with an online logsumexp (as flash attention streams keys) and picks the
target's logit inside the same loop, so the logits never exist in memory.

    token_nll_reference(h, w, t)      plain jnp (h @ w.T, log-softmax, gather), float32: the spec
    token_nll_pallas(h, w, t, *, block_n, block_v, interpret)
    token_nll(h, w, t, implementation=None)   dispatcher (kernels/_dispatch.py)
    held_bytes_bound(n, v, d, ..., interpret)  the kernel's temporaries without the logits

h: (N, D) hidden states after the final layer norm; w: (V, D) the tied embedding; t: (N,) int
targets in [0, V). Scoring only: the training path differentiates the reference (no VJP here).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from kernels._blocks import pow2, round_up
from kernels._dispatch import resolve

# Both forms ask for full float32 products: with the default precision a float32 dot may run in
# TF32 on a GPU (10-bit mantissa; Pallas-Triton lowers DEFAULT to TF32), ~1e-3 off per logit
# and outside the tests' float32 tolerances. On CPU the flag changes nothing (checked: the
# same bits).
HIGHEST = jax.lax.Precision.HIGHEST


def _check(h, w, t):
    if h.ndim != 2 or w.ndim != 2 or t.ndim != 1:
        raise ValueError(
            f"token_nll needs h (N, D), w (V, D), t (N,); got {h.shape}, {w.shape}, {t.shape}"
        )
    if h.shape[1] != w.shape[1] or h.shape[0] != t.shape[0]:
        raise ValueError(f"token_nll shapes disagree: h {h.shape}, w {w.shape}, t {t.shape}")


def token_nll_reference(h, w, t):
    """(N,) float32: logsumexp(h @ w.T) - (h @ w.T)[i, t[i]] with float32 accumulation."""
    _check(h, w, t)
    logits = jnp.dot(h, w.T, preferred_element_type=jnp.float32, precision=HIGHEST)
    lse = jax.nn.logsumexp(logits, axis=-1)
    picked = jnp.take_along_axis(logits, t[:, None].astype(jnp.int32), axis=-1)[:, 0]
    return lse - picked


def _token_nll_kernel(h_ref, w_ref, t_ref, o_ref, *, block_v: int, n_v: int, vocab: int):
    h = h_ref[...].astype(jnp.float32)  # (bn, D)
    t = t_ref[...]  # (bn,)
    bn = h.shape[0]

    def body(c, carry):
        m, s, picked = carry
        wc = w_ref[pl.ds(c * block_v, block_v), :].astype(jnp.float32)  # (bv, D)
        logits = jnp.dot(h, wc.T, preferred_element_type=jnp.float32, precision=HIGHEST)
        ids = c * block_v + jax.lax.broadcasted_iota(jnp.int32, (bn, block_v), 1)
        logits = jnp.where(ids < vocab, logits, -jnp.inf)  # padded vocabulary rows
        m_new = jnp.maximum(m, jnp.max(logits, axis=1))
        s = s * jnp.exp(m - m_new) + jnp.sum(jnp.exp(logits - m_new[:, None]), axis=1)
        picked = picked + jnp.sum(jnp.where(ids == t[:, None], logits, 0.0), axis=1)
        return m_new, s, picked

    m0 = jnp.full((bn,), -1e30, jnp.float32)  # finite floor: exp(m0 - m_new) stays defined
    s0 = jnp.zeros((bn,), jnp.float32)
    m, s, picked = jax.lax.fori_loop(0, n_v, body, (m0, s0, s0))
    o_ref[...] = jnp.log(s) + m - picked


def padded_shape(n, v, d, *, block_n, block_v, interpret) -> tuple[int, int, int]:
    """(rows, vocabulary, width) after the kernel's padding. Triton (the compiled GPU path) needs
    power-of-two block shapes >= 16: there the vocabulary and width are padded to powers of two
    (the whole table is one block, streamed in block_v chunks); interpreted (CPU) they are padded
    to the blocks only, as the committed runs were."""
    if interpret:
        return round_up(n, block_n), round_up(v, block_v), round_up(d, 16)
    return round_up(n, block_n), pow2(max(v, block_v)), pow2(max(d, 16))


# float32 (block_n, block_v) arrays live at once in one step of the kernel's vocabulary loop,
# counted in `_token_nll_kernel`'s body: the ids, the chunk's logits, the masked logits, their
# exponentials, the target-masked logits
_CHUNK_ARRAYS = 5


def held_bytes_bound(n, v, d, *, block_n=32, block_v=128, interpret) -> int:
    """An upper bound on the temporary bytes the kernel's compiled program holds, with no (N, V)
    array in it; what `experiments.bench_token_nll` compares XLA's memory analysis with.

    Derived from the program's structure, 4-byte entries throughout:
    - the padded inputs h (n_pad, d_pad), w (v_pad, d_pad), t (n_pad) and the output (n_pad);
    - interpreted, Pallas runs the grid as an XLA while loop that carries every input and the
      output as loop state: the compiled HLO copies each argument into the state and copies
      the state again inside the body (e.g. at (8192, 2048, 96): `copy(h)` into the loop, two
      more copies in its body), so up to three live copies of each; plus one block of each
      input sliced per grid step, and the loop body's `_CHUNK_ARRAYS` chunk temporaries;
    - compiled (Triton), blocks and chunks live on chip, not in XLA's buffers: one copy.
    Holding the logits would add 4 N V bytes on top of the copies, so the comparison tells the
    two apart where 4 N V exceeds this bound."""
    n_pad, v_pad, d_pad = padded_shape(
        n, v, d, block_n=block_n, block_v=block_v, interpret=interpret
    )
    carried = n_pad * d_pad + v_pad * d_pad + 2 * n_pad
    if not interpret:
        return 4 * carried
    blocks = block_n * d_pad + v_pad * d_pad + 2 * block_n
    return 4 * (3 * carried + blocks + _CHUNK_ARRAYS * block_n * block_v)


@functools.partial(jax.jit, static_argnames=("block_n", "block_v", "interpret"))
def token_nll_pallas(h, w, t, *, block_n: int = 32, block_v: int = 128, interpret: bool = False):
    """The fused kernel: a grid over row blocks of `block_n`; each streams the vocabulary in
    chunks of `block_v` (powers of two; rows, vocabulary and width padded; padding is masked)."""
    if block_n & (block_n - 1) or block_v & (block_v - 1) or min(block_n, block_v) < 16:
        raise ValueError(
            f"block_n and block_v must be powers of two >= 16, got {block_n}, {block_v}"
        )
    _check(h, w, t)
    n, d = h.shape
    v = w.shape[0]
    n_pad, v_pad, d_pad = padded_shape(
        n, v, d, block_n=block_n, block_v=block_v, interpret=interpret
    )
    hp = jnp.pad(h, ((0, n_pad - n), (0, d_pad - d)))
    wp = jnp.pad(w, ((0, v_pad - v), (0, d_pad - d)))
    tp = jnp.pad(t.astype(jnp.int32), (0, n_pad - n))
    out = pl.pallas_call(
        functools.partial(_token_nll_kernel, block_v=block_v, n_v=v_pad // block_v, vocab=v),
        grid=(n_pad // block_n,),
        in_specs=[
            pl.BlockSpec((block_n, d_pad), lambda i: (i, 0)),
            pl.BlockSpec((v_pad, d_pad), lambda i: (0, 0)),
            pl.BlockSpec((block_n,), lambda i: (i,)),
        ],
        out_specs=pl.BlockSpec((block_n,), lambda i: (i,)),
        out_shape=jax.ShapeDtypeStruct((n_pad,), jnp.float32),
        interpret=interpret,
    )(hp, wp, tp)
    return out[:n]


def token_nll(h, w, t, *, implementation: str | None = None, block_n: int = 32, block_v: int = 128):
    """Dispatcher: the Pallas kernel on GPU/TPU, the XLA reference on CPU (kernels/_dispatch);
    the block sizes go to the kernel."""
    choice = resolve(implementation)
    if choice.implementation == "reference":
        return token_nll_reference(h, w, t)
    return token_nll_pallas(h, w, t, block_n=block_n, block_v=block_v, interpret=choice.interpret)
