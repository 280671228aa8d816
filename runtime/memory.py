"""Memory budget: refuse a size before anything is allocated, with the number it would need.

Every experiment states `memory_estimate(cfg) -> bytes` (its largest live arrays, derived in its
docstring); the CLI compares it with `budget_bytes()` before any work starts. Estimates are upper
bounds to within a small factor, not measurements; the committed full presets sit far below the
budget (tests/experiments/test_lib.py checks every preset).
"""

from __future__ import annotations

import os
import resource

# The share of this host's physical memory one run may plan to use: XLA's temporaries, the
# Python heap and a second process (the 4-device smoke check) need the rest.
FRACTION = 0.6


def host_bytes() -> int:
    """The memory this process may use: the host's physical memory, or less where a limit says
    so: a cgroup v2 `memory.max` (a container, a SLURM job) or an address-space rlimit
    (`ulimit -v`; tools/bad_input_campaign.py runs each child under one). Planning against the
    host alone let a run the estimate allowed die of an out-of-memory traceback under a 6 GiB
    cap (bench_cnn_gram tile = 10^12: 6.4 GB estimated, under 60% of 23.5 GiB, over the cap)."""
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        have = 8 << 30
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        have = min(have, soft)
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            text = f.read().strip()
        if text.isdigit():
            have = min(have, int(text))
    except OSError:
        pass
    return have


def budget_bytes(fraction: float = FRACTION) -> int:
    return int(fraction * host_bytes())


def gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def refusal(need: int, what: str = "this configuration") -> str | None:
    """One line saying why `need` bytes cannot be planned for, or None when it fits."""
    have = budget_bytes()
    if need <= have:
        return None
    return (
        f"too large: {what} needs ~{gib(need)}, over the {gib(have)} budget "
        f"({FRACTION:.0%} of the {gib(host_bytes())} this process may use); lower the sizes"
    )


def compiled_bytes(fn, *args) -> dict | None:
    """What XLA's compiled program of jit(fn)(*args) allocates, in bytes: {"temp", "output",
    "argument"}, or None on a backend without the analysis. A measurement of the program, beside
    the estimates above (jax is imported here, at call time: this module loads before it)."""
    import jax

    return analysis_bytes(jax.jit(fn).lower(*args).compile())


def analysis_bytes(compiled) -> dict | None:
    """`compiled_bytes` of a program already compiled (`jit(f).lower(*args).compile()`), for a
    caller that also runs it and so compiles once."""
    ma = compiled.memory_analysis()
    if ma is None:
        return None
    return {
        "temp": int(ma.temp_size_in_bytes),
        "output": int(ma.output_size_in_bytes),
        "argument": int(ma.argument_size_in_bytes),
    }
