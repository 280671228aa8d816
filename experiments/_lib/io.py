"""Results I/O: canonical JSON and atomic output folders.

`results.json` is written with sorted keys and NaN/inf as null so that the same seed gives a
byte-identical file. Output folders are written under a temporary sibling and renamed into place,
so an interrupted run (Ctrl-C, crash, bad input) never leaves a half-written folder.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from runtime import interrupts

SCHEMA = "memlearn-results/2"  # 2: claim rows v2 (kind, source, decide; experiments._lib.claims)


def to_jsonable(obj: Any) -> Any:
    """Converts numpy/jax scalars and arrays, tuples and dataclass-free containers to JSON types.
    Dict keys come out sorted, as `dumps` writes them: check_claims then sees the same key order
    on a fresh run (cli.assemble) as on results.json read back (re-judging, the committed-claims
    test), so rows built by iterating a dict come out in one order (a fresh bandit run wrote its
    rows in insertion order and its committed claims read as stale)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(obj[k]) for k in sorted(obj, key=str)}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "__array__") and not isinstance(obj, (str, bytes)):
        arr = np.asarray(obj)
        if arr.ndim == 0:
            return to_jsonable(arr.item())
        return [to_jsonable(v) for v in arr.tolist()]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj


def _flat(x: Any) -> bool:
    """A list of scalars, or of such lists (an array): written on one line."""
    return isinstance(x, list) and all(not isinstance(v, (dict, list)) or _flat(v) for v in x)


def _encode(x: Any, depth: int) -> str:
    if isinstance(x, dict) and x:
        pad = " " * (depth + 1)
        rows = [f"{pad}{json.dumps(k)}: {_encode(x[k], depth + 1)}" for k in sorted(x)]
        return "{\n" + ",\n".join(rows) + "\n" + " " * depth + "}"
    if isinstance(x, list) and x and not _flat(x):
        pad = " " * (depth + 1)
        rows = [pad + _encode(v, depth + 1) for v in x]
        return "[\n" + ",\n".join(rows) + "\n" + " " * depth + "]"
    return json.dumps(x, allow_nan=False)


def dumps(obj: Any) -> str:
    """Canonical JSON: sorted keys, one key per line, arrays (lists of numbers, or of such lists)
    on one line each; the same object gives the same bytes. (Arrays one number per line, as
    json's indent writes them, made the larger results files ~3x bigger and unreadable.)"""
    return _encode(to_jsonable(obj), 0) + "\n"


def write_json(path: os.PathLike, obj: Any) -> None:
    pathlib.Path(path).write_text(dumps(obj))


def read_json(path: os.PathLike) -> Any:
    return json.loads(pathlib.Path(path).read_text())


def check_out_dir(final: os.PathLike) -> None:
    """Raises ValueError (one line) unless `final` can become an output folder: it is a folder or
    absent, and its nearest existing ancestor is a writable folder. Checked before any work."""
    final = pathlib.Path(final)
    if final.exists() and not final.is_dir():
        raise ValueError(f"--out {final}: exists and is not a folder (it would be replaced)")
    parent = final.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"--out {final}: {parent} is not a folder")
    try:  # a real probe: os.access says yes to root even where mkdir fails (/proc)
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=parent))
    except OSError as e:
        raise ValueError(
            f"--out {final}: cannot create a folder in {parent} ({e.strerror})"
        ) from None


@contextlib.contextmanager
def atomic_dir(final: os.PathLike) -> Iterator[pathlib.Path]:
    """Yields a fresh temporary folder that replaces `final` only if the block completes.

    The temporary folder sits beside `final` (same filesystem, so the rename is atomic). A previous
    `final` is moved aside and removed only after the new one is in place.
    """
    final = pathlib.Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it 0700; results are for sharing (0755 at umask 022)
    try:
        yield tmp
        interrupts.check()  # a swallowed Ctrl-C never commits (runtime/interrupts.py)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
    tmp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
