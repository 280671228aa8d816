"""One way to time code: the first call (compile + run) apart, then repeats, blocking on results.

    t, out = time_fn(f, *args, repeats=5)      # t.compile_s, t.min_s, t.median_s, t.times
    ts, outs = time_fns({"a": f, "b": g}, *args, repeats=5)   # interleaved rounds
    out, seconds = timed(lambda: work())       # one call, wall clock (no compile split)
    flops, t = matmul_rate(a, repeats=5)       # the roof: flops of a @ a and its Timing
    failure_text(e)                            # a candidate that raised, as recorded

Interleaving the candidates round by round (a, b, a, b, ...) makes their ratio robust to a noisy
shared machine: a slow spell hits every candidate in the same round. Report ratios of medians
from one run; wall-clock numbers go only in results.json's `timing`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np


class Timing(NamedTuple):
    compile_s: float  # the first call: tracing + compilation + one run
    min_s: float
    median_s: float
    times: tuple[float, ...]


def _once(fn: Callable, args) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - t0


def time_fns(fns: dict[str, Callable], *args, repeats: int = 3):
    """Call each fn once (compile), then `repeats` interleaved rounds. Returns
    ({name: Timing}, {name: output of the first call})."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    outs, first = {}, {}
    for name, f in fns.items():
        outs[name], first[name] = _once(f, args)
    ts: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, f in fns.items():
            ts[name].append(_once(f, args)[1])
    timings = {
        n: Timing(first[n], float(np.min(v)), float(np.median(v)), tuple(v)) for n, v in ts.items()
    }
    return timings, outs


def time_fn(fn: Callable, *args, repeats: int = 3):
    """`time_fns` for one function: (Timing, output)."""
    t, out = time_fns({"fn": fn}, *args, repeats=repeats)
    return t["fn"], out["fn"]


def timed(thunk: Callable[[], Any]) -> tuple[Any, float]:
    """(thunk(), wall seconds), blocking on jax outputs: for one-off stages of a run."""
    return _once(thunk, ())


def matmul_rate(a, *, repeats: int = 3) -> tuple[float, Timing]:
    """The roof benchmarks compare with: jit(a @ a) for a square matrix a, timed as `time_fn`
    does. Returns (its flops, 2 n^3, and the Timing): flops / t.median_s or / t.min_s is the
    device's attainable matmul rate in a's dtype."""
    n = a.shape[0]
    if a.shape != (n, n):
        raise ValueError(f"matmul_rate needs a square matrix, got {a.shape}")
    t, _ = time_fn(jax.jit(lambda x: x @ x), a, repeats=repeats)
    return 2.0 * n**3, t


def failure_text(e: BaseException) -> str:
    """A benchmark candidate that raised (e.g. RESOURCE_EXHAUSTED on a device, a lowering that a
    backend lacks) is recorded, not fatal: its exception type and the first line of the message."""
    first = str(e).splitlines()[0][:160] if str(e) else ""
    return f"{type(e).__name__}: {first}"
