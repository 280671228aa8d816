"""XLA flags this repository needs, tied to the jaxlib versions that need them, checked in force.

The one workaround today: XLA:CPU's YNNPACK ("ynn") fusions return silently wrong numbers in
jaxlib 0.10.2. Found here: the jitted O(L^2) linear attention (an (L, L) score matmul, a causal
mask, a second matmul and a row sum) fused into one `__ynn_fusion` returns values of 1e30 at
L = 2048 (correct at L = 1024, and correct eagerly); the same family as jax-ml/jax#39103 (wrong jit
results for a matmul followed by a reduction, new in 0.10.2) and #39257 (ynn fusion crashes).
Python 3.11 caps jax at 0.10.2 here, so the fusions are disabled with a flag instead of a
downgrade: `--xla_cpu_experimental_ynn_fusion_type=` (no fusion kinds).

XLA reads XLA_FLAGS once, when jax starts its first backend, so the flag only helps if it is in
the environment by then. `apply()` (run by `import runtime`, which theory/, kernels/, models/ and
experiments/ do first) therefore:
  - appends the flag when the backend has not started yet;
  - accepts a started backend only if XLA_FLAGS already carried the flag (the Makefile and the
    notebooks' first cell set it before jax starts);
  - otherwise raises `XlaFlagError`: the numbers would silently be wrong, so nothing runs.
The flag is tied to the jaxlib versions examined for the bug (`EXAMINED`): an unexamined jaxlib
raises too, so an upgrade re-examines it (`probe_ynn_bug` in a fresh process, then add the
version) instead of carrying a flag XLA may no longer know (unknown XLA flags abort the process).

`python runtime/xla_flags.py` (stdlib only, no jax) prints XLA_FLAGS with the workaround for
the installed jaxlib (the Makefile exports that), or one line on stderr and exit 2 for an
unexamined jaxlib.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys

FLAG = "--xla_cpu_experimental_ynn_fusion_type="
_FLAG_NAME = "xla_cpu_experimental_ynn_fusion_type"

# jaxlib version -> the flags it needs (examined with `probe_ynn_bug`; see the module docstring).
EXAMINED: dict[str, tuple[str, ...]] = {
    "0.10.2": (FLAG,),  # ynn fusion returns ~1e30 for the O(L^2) linear attention at L = 2048
}


class XlaFlagError(RuntimeError):
    """The XLA flags this jaxlib needs are not (and can no longer be) in force."""


def jaxlib_version() -> str:
    return importlib.metadata.version("jaxlib")


def required_flags(version: str | None = None) -> tuple[str, ...]:
    version = jaxlib_version() if version is None else version
    # tools/gpu_check.py examines an unlisted jaxlib (the lent GPU machines bring their own) with
    # probe_ynn_bug and passes its verdict on as MEMLEARN_XLA_EXAMINED="<version>=clean|flag".
    verdict = os.environ.get("MEMLEARN_XLA_EXAMINED", "")
    if version not in EXAMINED and verdict in (f"{version}=clean", f"{version}=flag"):
        return () if verdict.endswith("=clean") else (FLAG,)
    if version not in EXAMINED:
        raise XlaFlagError(
            f"jaxlib {version} has not been examined for the XLA:CPU ynn-fusion bug (examined: "
            f"{', '.join(EXAMINED)}): run `python -c 'from runtime.xla_flags import probe_ynn_bug; "
            f"print(probe_ynn_bug())'` and record the version in runtime/xla_flags.EXAMINED"
        )
    return EXAMINED[version]


def backend_started() -> bool:
    """Whether jax has already created a backend (then XLA_FLAGS can no longer change)."""
    if "jax" not in sys.modules:
        return False
    from jax._src import xla_bridge

    return xla_bridge.backends_are_initialized()


def flags_with_workaround(flags: str, required: tuple[str, ...]) -> str:
    """`flags` (an XLA_FLAGS string) with each required flag appended unless already named."""
    for f in required:
        if f.split("=")[0] not in flags:
            flags = f"{flags} {f}".strip()
    return flags


def in_force(flags: str | None = None, required: tuple[str, ...] | None = None) -> bool:
    flags = os.environ.get("XLA_FLAGS", "") if flags is None else flags
    required = required_flags() if required is None else required
    return all(f in flags.split() for f in required)


def apply() -> None:
    """Put the required flags in force, or raise XlaFlagError if that is no longer possible."""
    required = required_flags()
    flags = os.environ.get("XLA_FLAGS", "")
    if in_force(flags, required):
        return
    if backend_started():
        raise XlaFlagError(
            "jax started its backend before the XLA:CPU ynn-fusion workaround was set, so jitted "
            "code may return wrong numbers (jaxlib 0.10.2): import runtime (or theory, kernels, "
            "models, experiments) before using jax, or start with "
            f"XLA_FLAGS='{flags_with_workaround(flags, required)}'"
        )
    new = flags_with_workaround(flags, required)
    if not in_force(new, required):
        raise XlaFlagError(
            f"XLA_FLAGS sets {_FLAG_NAME} to another value ({flags!r}); this jaxlib needs "
            f"{' '.join(required)} (wrong numbers otherwise): remove it from XLA_FLAGS"
        )
    os.environ["XLA_FLAGS"] = new


def probe_ynn_bug(length: int = 2048, *, fusions_on: bool = True) -> float:
    """Max |jit - eager| of the masked O(L^2) linear-attention form, in a fresh process with the
    ynn fusions on (the default XLA behaviour) or off, computed in NumPy (inf when either output
    is not finite). ~1e30 on jaxlib 0.10.2 with them on; a jaxlib whose result is O(1e-6) with
    them on does not need the flag."""
    import subprocess

    # What showed it (tests/kernels: causal_linear_attention_reference under jit): Based's Taylor
    # features (d = 16 -> 273) computed outside jit, batch 1, 2 heads, value dim 64.
    code = (
        "import jax, jax.numpy as jnp\n"
        f"L = {int(length)}\n"
        "ks = jax.random.split(jax.random.key(11), 3)\n"
        "q, k = (0.35 * jax.random.normal(s, (1, 2, L, 16)) for s in ks[:2])\n"
        "v = jax.random.normal(ks[2], (1, 2, L, 64))\n"
        "def phi(x):\n"
        "    x2 = (x[..., :, None] * x[..., None, :]).reshape(*x.shape[:-1], 256)\n"
        "    one = jnp.ones(x.shape[:-1] + (1,), x.dtype)\n"
        "    return jnp.concatenate([one, x / 2.0, x2 / (2.0 ** 0.5 * 4.0)], -1)\n"
        "def f(q, k, v):\n"
        "    s0, z0 = jnp.zeros((1, 2, 273, 64)), jnp.zeros((1, 2, 273))\n"
        "    a = jnp.einsum('bhlf,bhmf->bhlm', q, k) * jnp.tril(jnp.ones((1, 1, L, L)))\n"
        "    num = a @ v + jnp.einsum('bhlf,bhfd->bhld', q, s0)\n"
        "    den = a.sum(-1) + jnp.einsum('bhlf,bhf->bhl', q, z0)\n"
        "    return num / (den[..., None] + 1e-12)\n"
        "qf, kf = phi(q), phi(k)\n"
        # the difference is taken in NumPy: jax's own eager max/abs are compiled by the same
        # XLA:CPU and, with the fusions on, returned -inf
        # (2 of 3 probes here under load; the slow test then failed)
        "import numpy as np\n"
        "a, b = (np.asarray(o, np.float64) for o in (jax.jit(f)(qf, kf, v), f(qf, kf, v)))\n"
        "d = np.abs(a - b)\n"
        "print(float(d.max()) if np.isfinite(d).all() else float('inf'))\n"
    )
    env = dict(os.environ)
    flags = env.get("XLA_FLAGS", "").replace(FLAG, "").strip()
    env["XLA_FLAGS"] = flags if fusions_on else f"{flags} {FLAG}".strip()
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def _main() -> int:
    try:
        print(flags_with_workaround(os.environ.get("XLA_FLAGS", ""), required_flags()))
    except XlaFlagError as e:
        print(f"runtime.xla_flags: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
