"""Finds the experiments: every `experiments/<name>.py` (no leading underscore) with PRESETS."""

from __future__ import annotations

import ast
import importlib
import pathlib
import pkgutil
from types import ModuleType

import experiments

ROOT = pathlib.Path(__file__).resolve().parents[2]
_NOT_EXPERIMENTS = {"all"}


def names() -> list[str]:
    found = []
    for info in pkgutil.iter_modules(experiments.__path__):
        if info.name.startswith("_") or info.name in _NOT_EXPERIMENTS:
            continue
        found.append(info.name)
    return sorted(found)


def load(name: str) -> ModuleType:
    if name not in names():
        from experiments._lib.config import UsageError

        raise UsageError(f"unknown experiment {name!r} (known: {', '.join(names())})")
    module = importlib.import_module(f"experiments.{name}")
    if not hasattr(module, "PRESETS"):
        raise TypeError(f"experiments.{name} has no PRESETS")
    return module


def summary_line(module: ModuleType | str) -> str:
    """First docstring line; given a name, read from the source without importing (fast)."""
    if isinstance(module, str):
        source = (ROOT / "experiments" / f"{module}.py").read_text()
        doc = (ast.get_docstring(ast.parse(source)) or "").strip().splitlines()
    else:
        doc = (module.__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""


def results_dir(name: str, preset: str) -> pathlib.Path:
    return ROOT / "results" / name / preset
