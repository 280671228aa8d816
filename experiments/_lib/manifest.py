"""Provenance for a run: git state, argv, versions, backend and devices, XLA flags, timings,
peak memory."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any

PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpyro", "chex", "numpy", "scipy", "matplotlib")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def git_state() -> dict[str, Any]:
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


# The instruction-set extensions that change which code XLA:CPU and OpenBLAS (its DYNAMIC_ARCH
# kernels) run, and so the last bits of float reductions: two machines that differ here may give
# runs that differ in the last bits (tests/experiments/test_full_presets.py).
ISA_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512dq",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
)


def cpu() -> dict[str, Any]:
    """The host CPU's model name and which of ISA_FLAGS it has (from /proc/cpuinfo; where that
    cannot be read, platform.processor() and no flags)."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return {"model": platform.processor() or None, "isa": None}
    fields = dict(ln.split(":", 1) for ln in text.splitlines() if ":" in ln)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    have = set(fields.get("flags", "").split())
    return {"model": fields.get("model name"), "isa": [f for f in ISA_FLAGS if f in have]}


def devices() -> dict[str, Any]:
    import jax

    devs = jax.devices()
    return {
        "backend": jax.default_backend(),
        "device_count": len(devs),
        "device_kinds": sorted({d.device_kind for d in devs}),
        "process_count": jax.process_count(),
    }


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def build(
    *,
    argv: list[str],
    config: dict,
    started: float,
    finished: float,
    git: dict | None = None,
    resumed: dict | None = None,
) -> dict[str, Any]:
    """`git` should be captured when the run starts (the tree may change while it runs).
    `resumed`: what the checkpoint units this run read back instead of computing cost where
    they were computed (experiments._lib.checkpoint.resumed()); wall_seconds and peak_rss_mb
    describe this process only."""
    return {
        "argv": list(argv),
        "config": config,
        "git": git_state() if git is None else git,
        "versions": versions(),
        "devices": devices(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "platform": platform.platform(),
        "cpu": cpu(),
        "executable": sys.executable,
        "started_unix": started,
        "finished_unix": finished,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": finished - started,
        "peak_rss_mb": peak_rss_mb(),
        "resumed": resumed or {"units": 0, "compute_seconds": 0.0, "peak_rss_mb": None},
    }


def runtime_text(m: dict) -> str:
    """A manifest's run time for tables and --help: the run's own wall seconds, plus what the
    units it read back cost to compute (absent from manifests written before the field)."""
    text = f"{m['wall_seconds']:.0f} s"
    r = m.get("resumed") or {}
    if r.get("units"):
        text += f" + {r['compute_seconds']:.0f} s in {r['units']} resumed units"
    return text
