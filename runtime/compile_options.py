"""Per-program XLA compiler options (`jax.jit(..., compiler_options=...)`), beside the
process-wide flags of runtime/xla_flags.py.

`QUICK_COMPILE` asks XLA:CPU for less code-generation effort: LLVM at optimisation level 1
instead of XLA's default, and the fusion emitters off (the classic elemental emitters instead).
It is for programs whose time is compilation, not execution, and only where it was measured to
change no bit of their results: a caller opts in per program and its tests check the bits. The
streaming-bandit programs (theory.streaming_bandits_sim, run by
experiments.streaming_bandit_regret) are such programs. Measured here (2026-12-07, 2 cores,
jaxlib 0.10.2, float64, every algorithm x mode, 12 programs, persistent cache off):
  - K = 100, 240 instances, jax's own sampler (the quick preset's shape): compile 86 -> 43 s,
    run 1.1 -> 0.9 s;
  - K = 20000, 120 instances, the compacted sampler (full-preset sized): compile 110 -> 61 s,
    run 64 -> 50 s;
  - every output bit equal in both (and the recorded golden outcomes: tests/theory/
    test_streaming_bandits.py). Level 1 alone: 86 -> 57 s; the emitters off alone: 86 -> 85 s;
    level 0 is faster still (42 s) but moves regrets by 1 ulp (it forms fewer FMAs) and runs 3x
    slower, so it is not used here.

It is not a general default: the same options set process-wide for other quick presets
(2026-12-07, back to back, cold) saved less and moved numbers: mecb_coupling 39 -> 34 s with
253 numbers moved (float64 entropies by 1 ulp, and through them Markov-coding-game episodes),
set_disjointness 32 -> 22 s with 53 moved (float32 features by ~1e-7 relative, a fitted slope
1.0229 -> 1.0251), cnn_ntk_spectrum 45 -> 36 s with 213 moved (eigenvalues by ~1 ulp).

`quick_compile_options()` returns {} off CPU (GPU code generation is left as XLA chooses) and
where XLA_FLAGS already sets either option (the fast test tier's own flags, tests/conftest.py,
then win, as they do for every other program).
"""

from __future__ import annotations

import os

import jax

QUICK_COMPILE = {"xla_backend_optimization_level": 1, "xla_cpu_use_fusion_emitters": False}


def quick_compile_options() -> dict:
    """`QUICK_COMPILE` for a program on the CPU backend unless XLA_FLAGS already names one of its
    options; {} otherwise."""
    if jax.default_backend() != "cpu":
        return {}
    flags = os.environ.get("XLA_FLAGS", "")
    if any(f"--{name}" in flags for name in QUICK_COMPILE):
        return {}
    return dict(QUICK_COMPILE)
