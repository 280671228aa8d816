"""Turn off XLA:CPU's YNNPACK fusions, which return silently wrong numbers in jaxlib 0.10.2.

Found here: the jitted O(L^2) linear attention (a (L, L) score matmul, a causal mask, a second
matmul and a row sum) fused into one `__ynn_fusion` returns values of 1e30 at L = 2048 (correct
at L = 1024, and correct eagerly); the same family as jax-ml/jax#39103 (wrong jit results for a
matmul followed by a reduction, new in 0.10.2) and #39257 (ynn fusion crashes). Python 3.11 caps
jax at 0.10.2 here, so the fusions are disabled with an XLA flag instead of a downgrade.

`apply()` appends `--xla_cpu_experimental_ynn_fusion_type=` (no fusion kinds) to XLA_FLAGS. It
must run before jax starts its CPU backend: theory/, kernels/ and experiments/ call it on import,
and tests/kernels/test_linear_attention.py checks that the flag is in force.
"""

from __future__ import annotations

import os

FLAG = "--xla_cpu_experimental_ynn_fusion_type="


def apply() -> None:
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_experimental_ynn_fusion_type" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {FLAG}".strip()
