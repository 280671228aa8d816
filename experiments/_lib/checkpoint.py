"""Resumable long runs: each finished unit of work (a seed, a section) saved as it completes.

An experiment whose full preset runs for hours saves each unit's JSON-able result with `save` and
asks `load` before computing it, so a run stopped by Ctrl-C, a crash or the end of a session
resumes where it stopped, and gives the results an uninterrupted run gives (units are JSON round
trips of what `io.to_jsonable` would write anyway; wall-clock timings come back as recorded).

A store is keyed by a fingerprint of everything the numbers depend on: the experiment, its
config, the source of every module of this repository the process has imported, the versions of
the numerical libraries, XLA_FLAGS and the devices. Any change starts a fresh store, so a resumed
run never mixes units computed by different code. Stores live under results/.partial/ (ignored
by git) and are removed when the run completes. The results folder itself is still written only
at the end, atomically (io.atomic_dir): a checkpoint is never a results folder.

Each unit records what computing it cost (its wall seconds, the computing process's peak RSS).
A run that reads units back instead of computing them (a resumed run, or one assembled from
units other processes computed) did not spend that time itself; `resumed()` sums what the units
this process read back recorded, and the CLI writes it into manifest.json beside the run's own
wall time, so a run assembled in 154 s from two hours of units does not report 154 s alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time
from typing import Any

from experiments._lib import io, manifest, registry

ROOT = registry.ROOT
PARTIAL = ROOT / "results" / ".partial"
_LIBRARIES = ("jax", "jaxlib", "numpy", "scipy", "numpyro", "flax", "optax", "sklearn")
# what each unit this process read back recorded about its computation, by unit file
_RESUMED: dict[str, dict] = {}


def reset_resumed() -> None:
    """Forget the units read back so far (the CLI calls it as a run starts)."""
    _RESUMED.clear()


def resumed() -> dict:
    """What the units read back since `reset_resumed` cost where they were computed: how many,
    their summed wall seconds (processes may have run side by side: a sum of work, not of
    elapsed time) and the largest peak RSS of a process that computed one."""
    metas = list(_RESUMED.values())
    return {
        "units": len(metas),
        "compute_seconds": round(sum(m["seconds"] for m in metas), 1),
        "peak_rss_mb": max((m["peak_rss_mb"] for m in metas), default=None),
    }


def _repo_sources() -> list[tuple[str, str]]:
    """(relative path, sha256) of every imported module whose file is in this repository."""
    out = []
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if not f:
            continue
        p = pathlib.Path(f).resolve()
        try:
            rel = p.relative_to(ROOT)
        except ValueError:
            continue
        if rel.parts[0].startswith(".") or p.suffix != ".py":  # .venv and other tool trees
            continue
        out.append((rel.as_posix(), hashlib.sha256(p.read_bytes()).hexdigest()))
    return sorted(set(out))


def fingerprint(name: str, cfg) -> str:
    import jax

    versions = {}
    for lib in _LIBRARIES:
        mod = sys.modules.get(lib)
        versions[lib] = getattr(mod, "__version__", None) if mod else None
    key = {
        "experiment": name,
        "config": io.to_jsonable(dataclasses.asdict(cfg)),
        "sources": _repo_sources(),
        "versions": versions,
        "python": sys.version,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "devices": [str(d) for d in jax.devices()],
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


class Store:
    """The saved units of one (experiment, config, code) run."""

    def __init__(self, name: str, cfg, root: pathlib.Path | None = None):
        self.dir = (PARTIAL if root is None else pathlib.Path(root)) / name / fingerprint(name, cfg)

    def _path(self, unit: str) -> pathlib.Path:
        if not unit.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"checkpoint unit names are [A-Za-z0-9_-], got {unit!r}")
        return self.dir / f"{unit}.json"

    def load(self, unit: str) -> Any | None:
        """The saved value of `unit`, or None; a hit is counted in `resumed()`. Writes go
        through a temporary file and a rename, so a crash leaves no partial unit; a file that
        does not parse all the same (a fault below the file system) is treated as absent and
        recomputed."""
        p = self._path(unit)
        if not p.exists():
            return None
        try:
            doc = json.loads(p.read_text())
            value, meta = doc["value"], {k: doc[k] for k in ("seconds", "peak_rss_mb")}
        except (OSError, ValueError, TypeError, KeyError):
            return None
        _RESUMED[str(p)] = meta
        return value

    def save(self, unit: str, value: Any, *, seconds: float) -> Any:
        """Writes `value` (made JSON-able) atomically with the wall `seconds` computing it took
        (the caller's measurement) and this process's peak RSS so far; returns the value as
        `load` will give it, so that the caller goes on with exactly what a resumed run would
        read."""
        if not (isinstance(seconds, (int, float)) and 0 <= seconds < float("inf")):
            raise ValueError(f"a unit's compute seconds must be finite and >= 0, got {seconds!r}")
        path = self._path(unit)
        data = json.loads(json.dumps(io.to_jsonable(value)))
        doc = {
            "value": data,
            "seconds": float(seconds),
            "peak_rss_mb": manifest.peak_rss_mb(),
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{unit}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, path)
        return data

    def compute(self, unit: str, thunk) -> Any:
        """`thunk()` saved as `unit` with the wall seconds it took; returns it as `load` will."""
        t = time.perf_counter()
        value = thunk()
        return self.save(unit, value, seconds=time.perf_counter() - t)

    def units(self) -> list[str]:
        return sorted(p.stem for p in self.dir.glob("*.json")) if self.dir.exists() else []

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        try:  # the experiment's folder too, once no other store is in it
            self.dir.parent.rmdir()
        except OSError:
            pass
