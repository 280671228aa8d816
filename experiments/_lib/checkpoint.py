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
from typing import Any

from experiments._lib import io, registry

ROOT = registry.ROOT
PARTIAL = ROOT / "results" / ".partial"
_LIBRARIES = ("jax", "jaxlib", "numpy", "scipy", "numpyro", "flax", "optax", "sklearn")


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
        """The saved value of `unit`, or None. Writes go through a temporary file and a rename,
        so a crash leaves no partial unit; a file that does not parse all the same (a fault
        below the file system) is treated as absent and recomputed."""
        p = self._path(unit)
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return None

    def save(self, unit: str, value: Any) -> Any:
        """Writes `value` (made JSON-able) atomically; returns the value as `load` will give it,
        so that the caller goes on with exactly what a resumed run would read."""
        path = self._path(unit)
        data = json.loads(json.dumps(io.to_jsonable(value)))
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{unit}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
        return data

    def units(self) -> list[str]:
        return sorted(p.stem for p in self.dir.glob("*.json")) if self.dir.exists() else []

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        try:  # the experiment's folder too, once no other store is in it
            self.dir.parent.rmdir()
        except OSError:
            pass
