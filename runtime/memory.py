"""Memory budget: refuse a size before anything is allocated, with the number it would need.

Every experiment states `memory_estimate(cfg) -> bytes` (its largest live arrays, derived in its
docstring); the CLI compares it with `budget_bytes()` before any work starts. Estimates are upper
bounds to within a small factor, not measurements; the committed full presets sit far below the
budget (tests/experiments/test_lib.py checks every preset).
"""

from __future__ import annotations

import os

# The share of this host's physical memory one run may plan to use: XLA's temporaries, the
# Python heap and a second process (the 4-device smoke check) need the rest.
FRACTION = 0.6


def host_bytes() -> int:
    """Physical memory of this host."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30


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
        f"({FRACTION:.0%} of this host's {gib(host_bytes())}); lower the sizes"
    )
