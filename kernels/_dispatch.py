"""Which implementation a kernel dispatcher runs.

`implementation=None` picks the compiled Pallas kernel on GPU/TPU and the XLA reference on CPU
(Pallas only runs interpreted there, far slower than XLA). An explicit "pallas" runs the kernel
anyway: interpreted on CPU, compiled elsewhere, and a failure raises (never a silent fallback).
"reference" always runs the jnp spec.
"""

from __future__ import annotations

from typing import NamedTuple

import jax

IMPLEMENTATIONS = ("reference", "pallas")


class Choice(NamedTuple):
    implementation: str
    interpret: bool


def resolve(implementation: str | None) -> Choice:
    backend = jax.default_backend()
    if implementation is None:
        return Choice("reference" if backend == "cpu" else "pallas", False)
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"implementation must be one of {IMPLEMENTATIONS} or None, got {implementation!r}"
        )
    return Choice(implementation, implementation == "pallas" and backend == "cpu")
