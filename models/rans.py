"""Range ANS (rANS) with exact integer frequencies, vectorised over independent streams.

Duda, "Asymmetric numeral systems", arXiv:1311.2540; the 64-bit-state / 32-bit-word variant
(state in [2^31, 2^63), precision P <= 24 bits), as in ryg_rans and in the coder of
Liu et al. 2022 (Tractables/PressedJuice.jl, src/compress.jl).

Why a hand-written coder next to `constriction` (the maintained one, used for the single
whole-set stream): the frequencies are part of the model's contract. `quantize` maps a pmf to
integers that sum exactly to 2^P with none zero, and the encoder and decoder both code with those
very integers; constriction re-quantises float probabilities itself. This one also checks stream
integrity: a decoder that ends anywhere but the initial state, or runs out of words, raises.
The authors' quantisation (ceil(exp(log cdf + P log 2)) per bound) is not a partition: two
symbols can share a bound (zero width; their code asserts) and the top bound can pass 2^P.

Stream layout (per image): uint32 little-endian words [state_hi, state_lo, w_k, ..., w_1] where
w_1..w_k were emitted in encoding order; decoding reads front to back.
"""

from __future__ import annotations

import itertools

import numpy as np

PRECISION = 24
RANS_L = np.uint64(1 << 31)
_MASK32 = np.uint64(0xFFFFFFFF)


class StreamError(ValueError):
    """A compressed stream is truncated or corrupted."""


def quantize(pmf: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    """Integer frequencies (..., K) with sum exactly 2^precision and every entry >= 1.

    f_k = 1 + floor(p_k (2^P - K)), then the remainder (< K + 1) goes one each to the symbols with
    the largest fractional parts (ties to the lower index). Deterministic: a pure function of the
    float64 input. Requires finite, non-negative pmfs and K <= 2^(P-1).
    """
    p = np.asarray(pmf, dtype=np.float64)
    K = p.shape[-1]
    total = 1 << precision
    if K > total // 2:
        raise ValueError(f"alphabet of {K} symbols does not fit {precision}-bit frequencies")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("pmf has negative or non-finite entries")
    s = p.sum(-1, keepdims=True)
    if np.any(s <= 0):
        raise ValueError("pmf sums to zero")
    scaled = p / s * (total - K)
    base = np.floor(scaled)
    freq = base.astype(np.int64) + 1
    rem = total - freq.sum(-1)  # in [0, K]
    frac = scaled - base
    rank = np.argsort(np.argsort(-frac, axis=-1, kind="stable"), axis=-1, kind="stable")
    freq += (rank < rem[..., None]).astype(np.int64)
    return freq


def _cum(freq):
    return np.concatenate([np.zeros(freq.shape[:-1] + (1,), np.int64), np.cumsum(freq, -1)], -1)


def encode(symbols: np.ndarray, freqs: np.ndarray, precision: int = PRECISION) -> list[bytes]:
    """Encodes B independent streams: symbols (B, T), frequencies (B, T, K) -> B byte strings."""
    symbols = np.asarray(symbols, np.int64)
    freqs = np.asarray(freqs, np.int64)
    B, T = symbols.shape
    if freqs.shape[:2] != (B, T):
        raise ValueError(f"freqs {freqs.shape} do not match symbols {symbols.shape}")
    cum = _cum(freqs)
    rows = np.arange(B)
    x = np.full(B, RANS_L, np.uint64)
    out = np.zeros((B, T + 2), np.uint32)  # at most one word per symbol
    n = np.zeros(B, np.int64)
    shift = np.uint64(32)
    x_max_base = np.uint64(((1 << 31) >> precision) << 32)
    P = np.uint64(precision)
    for t in range(T - 1, -1, -1):
        s = symbols[:, t]
        f = freqs[rows, t, s].astype(np.uint64)
        c = cum[rows, t, s].astype(np.uint64)
        emit = x >= x_max_base * f
        out[rows[emit], n[emit]] = (x[emit] & _MASK32).astype(np.uint32)
        n += emit
        x = np.where(emit, x >> shift, x)
        x = ((x // f) << P) + (x % f) + c
    streams = []
    for b in range(B):
        words = np.concatenate(
            [np.array([x[b] >> shift, x[b] & _MASK32], np.uint32), out[b, : n[b]][::-1]]
        )
        streams.append(words.astype("<u4").tobytes())
    return streams


class Decoder:
    """Decodes B streams symbol by symbol; the caller supplies each step's frequencies."""

    def __init__(self, streams: list[bytes], precision: int = PRECISION):
        self.precision = precision
        self.words = []
        for b, s in enumerate(streams):
            if len(s) % 4 or len(s) < 8:
                raise StreamError(f"stream {b}: {len(s)} bytes is not a whole rANS stream")
            self.words.append(np.frombuffer(s, "<u4").astype(np.uint64))
        self.B = len(streams)
        self.ptr = np.full(self.B, 2, np.int64)
        self.x = np.array([(w[0] << np.uint64(32)) | w[1] for w in self.words], np.uint64)
        if np.any(self.x < RANS_L):
            raise StreamError("stream header holds an impossible rANS state (corrupted)")
        self.length = np.array([w.size for w in self.words])

    def decode(self, freqs: np.ndarray) -> np.ndarray:
        """One symbol per stream from frequencies (B, K)."""
        freqs = np.asarray(freqs, np.int64)
        cum = _cum(freqs)
        P = np.uint64(self.precision)
        slot = (self.x & np.uint64((1 << self.precision) - 1)).astype(np.int64)
        s = (cum[:, 1:] <= slot[:, None]).sum(-1)  # cum[s] <= slot < cum[s + 1]
        rows = np.arange(self.B)
        f = freqs[rows, s].astype(np.uint64)
        c = cum[rows, s].astype(np.uint64)
        x = f * (self.x >> P) + slot.astype(np.uint64) - c
        need = x < RANS_L
        if np.any(need & (self.ptr >= self.length)):
            b = int(np.flatnonzero(need & (self.ptr >= self.length))[0])
            raise StreamError(f"stream {b} is truncated: ran out of words while decoding")
        for b in np.flatnonzero(need):
            x[b] = (x[b] << np.uint64(32)) | self.words[b][self.ptr[b]]
            self.ptr[b] += 1
        self.x = x
        return s

    def finish(self) -> None:
        """Raises unless every stream ended in the initial state with all words consumed."""
        bad = (self.x != RANS_L) | (self.ptr != self.length)
        if np.any(bad):
            raise StreamError(
                f"{int(bad.sum())} stream(s) failed the end-of-stream check (corrupted or "
                f"decoded with a different model), first: stream {int(np.flatnonzero(bad)[0])}"
            )


def ideal_bits(pmf: np.ndarray, symbols: np.ndarray) -> np.ndarray:
    """-log2 p(symbol) per symbol: pmf (..., K), symbols (...) -> (...).

    The pmf is normalised first (the float model the quantised frequencies stand in for)."""
    p = np.take_along_axis(pmf / pmf.sum(-1, keepdims=True), symbols[..., None], -1)[..., 0]
    return -np.log2(p)


def _authors_log_cdf(lp: np.ndarray) -> np.ndarray:
    """float32 log P(X < k) per symbol of float32 log-pmfs (..., K), -inf at k = 0: the bounds the
    authors' coder turns into integers and their decoder compares slots against."""
    p = np.exp(lp.astype(np.float64))
    cdf_lo = np.concatenate([np.zeros(p.shape[:-1] + (1,)), np.cumsum(p, -1)[..., :-1]], -1)
    with np.errstate(divide="ignore"):
        return np.log(cdf_lo).astype(np.float32)


def _authors_log_prec(precision: int) -> np.float32:
    """P log 2 in float32, as their `log_prec::Float`."""
    return np.float32(precision * np.log(np.float32(2.0)))


def authors_intervals(logpmf: np.ndarray, precision: int = 28):
    """The coding intervals of the authors' coder (PressedJuice.jl src/compress.jl), for study.

    Per symbol k: low_k = ceil(exp(log P(X < k) + P log 2)), width_k = ceil(exp(log p_k + P log 2))
    in float32 (their defaults: Float32, precision 28), and low_k -= 1 when width_k divides low_k.
    Rounding low and width up independently does not give a partition of [0, 2^P): returns
    (low, width) as int64 arrays (..., K) so that overlaps, gaps and overflow can be counted.
    """
    lp = np.asarray(logpmf, np.float32)
    log_lo, log_prec = _authors_log_cdf(lp), _authors_log_prec(precision)
    low = np.ceil(np.exp(log_lo + log_prec, dtype=np.float32)).astype(np.int64)
    width = np.ceil(np.exp(lp + log_prec, dtype=np.float32)).astype(np.int64)
    low = np.where((width > 0) & (low % np.maximum(width, 1) == 0), low - 1, low)
    return low, width


def partition_defects(low: np.ndarray, width: np.ndarray, precision: int) -> dict:
    """Counts, over pmfs (..., K): intervals that overlap the next one, zero widths, overflow."""
    end = low + width
    overlap = (end[..., :-1] > low[..., 1:]).any(-1)
    zero = (width == 0).any(-1)
    overflow = end[..., -1] > (1 << precision)
    n = int(np.prod(low.shape[:-1]))
    return {
        "pmfs": n,
        "overlapping": int(overlap.sum()),
        "zero_width": int(zero.sum()),
        "overflow": int(overflow.sum()),
        "any_defect_fraction": float((overlap | zero | overflow).sum() / n),
    }


_M64, _M32 = (1 << 64) - 1, (1 << 32) - 1


def _authors_encode(lows, widths, precision):
    """The authors' rANS encoder on one image: python ints with UInt64 wrap-around; lows/widths
    per symbol in coding order. Returns (state, words) or None when a width is 0 (their
    assertion "increase precision" fires)."""
    prec_l = ((1 << 31) >> precision) << 32
    state, words = 1 << 31, []
    for lo, w in zip(reversed(lows), reversed(widths), strict=True):  # encode in reverse
        if w == 0:
            return None
        if state >= prec_l * w:
            words.append(state & _M32)
            state >>= 32
        state = (((state // w) << precision) + state % w + lo) & _M64
    return state, words


def _authors_decode(state, words, decide, precision):
    """The authors' rANS decoder: `decide(i, slot)` -> (symbol, low, width) for step i, or None
    to stop (a mis-decode). Yields the decoded symbols."""
    mask = (1 << precision) - 1
    words = list(words)
    for i in itertools.count():
        slot = state & mask
        got = decide(i, slot)
        if got is None:
            return
        k, lo, w = got
        yield k
        state = ((state >> precision) * w + slot - lo) & _M64
        if state < 1 << 31:
            state = ((state << 32) | (words.pop() if words else 0)) & _M64


def authors_roundtrip(logpmf: np.ndarray, symbols: np.ndarray, precision: int = 28) -> np.ndarray:
    """Code each image with the authors' coder and decode it with the authors' decoder, for study.

    logpmf (N, D, K) float32 conditional pmfs in coding order, symbols (N, D). Simulates
    PressedJuice.jl (commit c018aeb, src/compress.jl and src/decompress.jl) with unsigned 64-bit
    wrap-around: the encoder codes the intervals of `authors_intervals` (ceil per bound, float32,
    `low -= 1` when width divides low, so symbol 0 starts at 2^64 - 1), renormalising 32 bits when
    the state >= 2^(31 - P + 32) * width; the decoder reads slot = state mod 2^P and picks, by
    binary search, the largest k whose float32 log P(X < k) is below float32(log(slot) - P log 2)
    (log of the integer in float64, as Julia's `log(::UInt64)`, stored as Float32), then undoes
    the step with that symbol's integers. Up to the first wrong symbol the decoder's pmfs are the
    encoder's (same prefix), so the image decodes iff no symbol goes wrong; returns the index of
    the first mis-decoded symbol per image (-1: decoded exactly; a zero width counts as a failure
    at that symbol). Departure: the cumulative log-probabilities come from our float64 cumsum of
    the float32 pmf, where the authors' circuit computes each as a float32 difference of joint
    log-likelihoods (more rounding).
    """
    lp = np.asarray(logpmf, np.float32)
    x = np.asarray(symbols, np.int64)
    if lp.ndim != 3 or x.shape != lp.shape[:2]:
        raise ValueError(f"logpmf (N, D, K) and symbols (N, D), got {lp.shape} and {x.shape}")
    low, width = authors_intervals(lp, precision)
    log_lo = _authors_log_cdf(lp)  # the float32 bounds the decoder compares to
    log_prec = float(_authors_log_prec(precision))
    n, d = x.shape
    first_bad = np.full(n, -1, np.int64)
    for j in range(n):
        lows = [int(v) & _M64 for v in np.take_along_axis(low[j], x[j, :, None], -1)[:, 0]]
        widths = [int(v) for v in np.take_along_axis(width[j], x[j, :, None], -1)[:, 0]]
        coded = _authors_encode(lows, widths, precision)
        if coded is None:
            first_bad[j] = int(np.flatnonzero(np.array(widths) == 0)[0])
            continue

        def decide(i, slot, j=j, lows=lows, widths=widths):
            if i == d:
                return None
            ref = np.float32(np.log(np.float64(slot)) - log_prec) if slot else -np.inf
            k = max(int(np.searchsorted(log_lo[j, i], ref, side="left")) - 1, 0)
            return (k, lows[i], widths[i]) if k == x[j, i] else None

        n_ok = sum(1 for _ in _authors_decode(*coded, decide, precision))
        first_bad[j] = -1 if n_ok == d else n_ok
    return first_bad
