"""Typed `--set field=value` overrides for frozen, keyword-only dataclass configs."""

from __future__ import annotations

import dataclasses
import math
import typing


class UsageError(ValueError):
    """Bad command-line input: reported as one line on stderr with exit status 2."""


_BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _parse_scalar(kind: type, text: str, field: str):
    try:
        if kind is bool:
            return _BOOL[text.strip().lower()]
        if kind is int:
            return int(float(text)) if _is_integral_float(text) else int(text)
        if kind is float:
            return float(text)
        if kind is str:
            return text
    except (ValueError, KeyError):
        pass
    raise UsageError(f"--set {field}={text!r}: expected {kind.__name__}")


def _is_integral_float(text: str) -> bool:
    # Accepts 1e6 for an int field (common for sizes) but not 1.5.
    try:
        value = float(text)
    except ValueError:
        return False
    return "e" in text.lower() and value.is_integer()


def parse_value(annotation, text: str, field: str):
    origin = typing.get_origin(annotation)
    if origin is tuple:
        args = typing.get_args(annotation)
        item = args[0] if args else str
        if typing.get_origin(item) is tuple:  # tuple of tuples: "2;2,2;2,2,2"
            return tuple(parse_value(item, p, field) for p in text.split(";") if p.strip())
        parts = [p for p in text.replace("(", "").replace(")", "").split(",") if p.strip()]
        return tuple(_parse_scalar(item, p.strip(), field) for p in parts)
    if annotation in (int, float, str, bool):
        return _parse_scalar(annotation, text, field)
    raise UsageError(f"--set {field}: field type {annotation!r} cannot be set from the CLI")


def _flat(v):
    if isinstance(v, tuple):
        for x in v:
            yield from _flat(x)
    else:
        yield v


def override(cfg, assignments: list[str]):
    """Returns `cfg` with each 'field=value' applied, typed by the dataclass annotations."""
    hints = typing.get_type_hints(type(cfg))
    names = {f.name for f in dataclasses.fields(cfg)}
    changes = {}
    for item in assignments:
        if "=" not in item:
            raise UsageError(f"--set expects field=value, got {item!r}")
        name, text = item.split("=", 1)
        name = name.strip()
        if name not in names:
            raise UsageError(f"unknown config field {name!r} (fields: {', '.join(sorted(names))})")
        changes[name] = parse_value(hints[name], text, name)
        # no experiment means anything by a nan or inf setting: refused before __post_init__
        bad = [v for v in _flat(changes[name]) if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise UsageError(f"{name} must be finite, got {bad[0]}")
    try:
        return dataclasses.replace(cfg, **changes)
    except (ValueError, TypeError) as e:  # Config.__post_init__ validation
        raise UsageError(str(e)) from None
