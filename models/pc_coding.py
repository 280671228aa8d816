"""Lossless image coding with an HCLT circuit: conditionals -> integer frequencies -> rANS.

Liu, Mandt, Van den Broeck, ICLR 2022, arXiv:2111.11632v2, Sec. 3 (Fig. 2: encoder and decoder
compute p(x_i | x_<i) with the same circuit, a streaming code turns them into bits).

Encoder and decoder step through the variables with the *same* jitted functions on the same
batch shape, so the pmfs (and hence the integer frequencies of models/rans.quantize) are
bit-identical on one machine and backend. Across machines the XLA float results may differ in the
last bit; a stream is portable only with the same build (stated in WORKSPACE.md).
"""

from __future__ import annotations

import functools
import zlib

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding

from models import pc, rans
from runtime import sharding

SCHEMES = ("naive", "cached", "outside")


class Stepper:
    """Jitted (state, t) -> log pmf and (state, t, x_t) -> state for one scheme, in pre-order."""

    def __init__(self, params, tree: pc.Tree, scheme: str, batch: int):
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        self.scheme, self.tree, self.batch = scheme, tree, batch
        self.order = tree.preorder
        order = jnp.asarray(tree.preorder)
        D = tree.n_vars
        if scheme == "naive":
            self.state0 = {
                "x": jnp.zeros((batch, D), jnp.int32),
                "known": jnp.zeros((batch, D), bool),
            }

            def logpmf(params, st, t):
                return pc.naive_logpmf(params, tree, st["x"], st["known"], order[t]), st

            def commit(params, st, t, xi):
                i = order[t]
                return {"x": st["x"].at[:, i].set(xi), "known": st["known"].at[:, i].set(True)}

        elif scheme == "cached":
            # (jitted: op by op, every level's gathers and updates compile one by one)
            self.state0 = jax.jit(lambda p: pc.cached_init(p, tree, batch))(params)

            def logpmf(params, st, t):
                return pc.cached_logpmf(params, tree, st, order[t]), st

            def commit(params, st, t, xi):
                return pc.cached_commit(params, tree, st, order[t], xi)

        else:
            self.state0 = pc.outside_init(params, tree, batch)

            def logpmf(params, st, t):
                return pc.outside_logpmf(params, tree, st, t)

            def commit(params, st, t, xi):
                return pc.outside_commit(params, tree, st, t, xi)

        self.params = params
        # The steps return their state placed like the params (replicated on the params' mesh
        # when they were placed on one): start from that placement too, or the first step
        # (fresh, unplaced state) and every later one compile as two different programs.
        placed = getattr(jax.tree_util.tree_leaves(params)[0], "sharding", None)
        if isinstance(placed, NamedSharding):
            self.state0 = sharding.replicate(self.state0, placed.mesh)
        self._logpmf = jax.jit(logpmf)
        self._commit = jax.jit(commit)

    def logpmf(self, st, t):
        return self._logpmf(self.params, st, jnp.int32(t))

    def commit(self, st, t, xi):
        return self._commit(self.params, st, jnp.int32(t), jnp.asarray(xi, jnp.int32))


def _pad(x, batch):
    n = x.shape[0]
    if n == batch:
        return x
    return np.concatenate([x, np.repeat(x[-1:], batch - n, 0)], 0)


def conditionals(stepper: Stepper, x: np.ndarray) -> np.ndarray:
    """log p(x_i | x_<i) pmfs (N, D, K) in coding order for known images x (N, D)."""
    out = []
    for s in range(0, x.shape[0], stepper.batch):
        xb = _pad(x[s : s + stepper.batch], stepper.batch)
        st, rows = stepper.state0, []
        for t, i in enumerate(stepper.order):
            lp, st = stepper.logpmf(st, t)
            rows.append(np.asarray(lp))
            st = stepper.commit(st, t, xb[:, i])
        out.append(np.stack(rows, 1)[: min(stepper.batch, x.shape[0] - s)])
    return np.concatenate(out, 0)


def check_alphabet(x: np.ndarray, n_values: int, n_vars: int) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != n_vars:
        raise ValueError(f"images must be (N, {n_vars}), got {x.shape}")
    if not np.issubdtype(x.dtype, np.integer) or (x.size and (x.min() < 0 or x.max() >= n_values)):
        raise ValueError(
            f"pixel values must be integers in [0, {n_values}) (the model's alphabet); got "
            f"range [{x.min()}, {x.max()}] of dtype {x.dtype}"
        )
    return x.astype(np.int64)


def encode(stepper: Stepper, x: np.ndarray, n_values: int, logpmf: np.ndarray | None = None):
    """Per-image rANS streams; returns (streams, ideal bits per image).

    `logpmf` may pass in `conditionals(stepper, x)` computed beforehand (same values)."""
    x = check_alphabet(x, n_values, stepper.tree.n_vars)
    lp = conditionals(stepper, x) if logpmf is None else logpmf  # (N, D, K), coding order
    sym = x[:, stepper.order]
    pmf = np.exp(lp.astype(np.float64))
    freqs = rans.quantize(pmf)
    return rans.encode(sym, freqs), rans.ideal_bits(pmf, sym).sum(1)


def decode(stepper: Stepper, streams: list[bytes], n_vars: int) -> np.ndarray:
    out = []
    for s in range(0, len(streams), stepper.batch):
        chunk = streams[s : s + stepper.batch]
        n = len(chunk)
        # Only the real streams are decoded. The padding rows of a short last batch repeat the
        # last image (as the encoder's `_pad`) but get no stream: XLA:CPU may round a row's pmf
        # differently at another batch position (seen on AMD EPYC), so a stream is decodable only
        # with the pmfs of the row that encoded it.
        dec = rans.Decoder(chunk)
        st = stepper.state0
        x = np.zeros((stepper.batch, n_vars), np.int64)
        for t, i in enumerate(stepper.order):
            lp, st = stepper.logpmf(st, t)
            xi = dec.decode(rans.quantize(np.exp(np.asarray(lp, np.float64)[:n])))
            x[:n, i] = xi
            x[n:, i] = xi[-1]
            st = stepper.commit(st, t, x[:, i])
        dec.finish()
        out.append(x[:n])
    return np.concatenate(out, 0) if out else np.zeros((0, n_vars), np.int64)


@functools.cache
def _constriction():
    import constriction

    return constriction


# Single-stream header: [MAGIC, images, variables, CRC-32 of the ANS words], uint32 each. The
# count makes a short, padded or empty stream detectable (ANS itself cannot tell: popping from an
# exhausted coder returns symbols), the check value any corrupted word.
STREAM_MAGIC = 0x4D4C5043  # "MLPC"
HEADER_WORDS = 4


def _crc(words: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(words, "<u4").tobytes())


def encode_single_stream(stepper: Stepper, x: np.ndarray, n_values: int):
    """One constriction ANS stream for a whole set, after a 4-word header (STREAM_MAGIC, image
    count, variable count, CRC-32 of the ANS words). Symbols are ordered batch by batch and,
    within a batch, pixel-major, so the decoder decodes every image's pixel t of a batch in one
    call. Batches are pushed last to first (ANS is a stack), one batch of pmfs in memory at a
    time. Returns (uint32 words, ideal bits of the symbols)."""
    c = _constriction()
    x = check_alphabet(x, n_values, stepper.tree.n_vars)
    coder = c.stream.stack.AnsCoder()
    ideal = 0.0
    starts = list(range(0, x.shape[0], stepper.batch))
    for s in reversed(starts):
        xb = x[s : s + stepper.batch]
        lp = conditionals(stepper, xb)
        sym = xb[:, stepper.order]
        pmf = np.exp(lp.astype(np.float64))
        # encode_reverse: the decoder pops this batch's symbols in forward (pixel-major) order
        coder.encode_reverse(
            sym.T.reshape(-1).astype(np.int32),
            c.stream.model.Categorical(perfect=False),
            pmf.transpose(1, 0, 2).reshape(-1, n_values),
        )
        ideal += float(rans.ideal_bits(pmf, sym).sum())
    body = np.asarray(coder.get_compressed(), np.uint32)
    head = np.array([STREAM_MAGIC, x.shape[0], x.shape[1], _crc(body)], np.uint32)
    return np.concatenate([head, body]), ideal


def decode_single_stream(stepper: Stepper, words: np.ndarray, n_vars: int) -> np.ndarray:
    """Decodes a stream of `encode_single_stream`; the image count comes from its header. Raises
    rans.StreamError for a missing or foreign header, a variable count other than `n_vars`, a
    check value that does not match (truncated, padded or corrupted), or data left over."""
    words = np.asarray(words)
    if words.ndim != 1 or len(words) < HEADER_WORDS or words.dtype.kind not in "ui":
        raise rans.StreamError(f"single stream: no {HEADER_WORDS}-word header (got {words.shape})")
    words = words.astype(np.uint32)
    magic, n_images, n_v, crc = (int(w) for w in words[:HEADER_WORDS])
    body = words[HEADER_WORDS:]
    if magic != STREAM_MAGIC:
        raise rans.StreamError("single stream: not a memlearn PC stream (bad magic word)")
    if n_v != n_vars:
        raise rans.StreamError(f"single stream holds images of {n_v} variables, not {n_vars}")
    if _crc(body) != crc:
        raise rans.StreamError("single stream is truncated, padded or corrupted (check value)")
    c = _constriction()
    coder = c.stream.stack.AnsCoder(body)
    out = []
    for s in range(0, n_images, stepper.batch):
        n = min(stepper.batch, n_images - s)
        st = stepper.state0
        x = np.zeros((stepper.batch, n_vars), np.int64)
        for t, i in enumerate(stepper.order):
            lp, st = stepper.logpmf(st, t)
            pmf = np.exp(np.asarray(lp, np.float64))[:n]
            try:
                xi = coder.decode(c.stream.model.Categorical(perfect=False), pmf)
            except Exception as e:  # constriction raises on an exhausted or invalid stream
                raise rans.StreamError(f"single stream is truncated or corrupted ({e})") from e
            x[:n, i] = xi
            x[n:, i] = xi[-1]
            st = stepper.commit(st, t, x[:, i])
        out.append(x[:n])
    if not coder.is_empty():
        raise rans.StreamError("single stream has data left after the last image (corrupted)")
    return np.concatenate(out, 0) if out else np.zeros((0, n_vars), np.int64)
