"""The one import point for neural-tangents 0.6.5 on this repo's jax pin.

neural-tangents 0.6.5 (Dec 2023, its last release; google/neural-tangents#209) imports names that
jax has since moved into `jax._src` and declares tensorflow + tf2jax for its tf-only
`experimental` submodule. This module, imported before neural_tangents, restores the few names it
still imports and registers `neural_tangents.experimental` as an empty package, so the oracle runs
without tensorflow. It touches jax internals, so jax is pinned exactly in pyproject.toml and golden
values from unmodified neural-tangents on jax 0.5.3 (`make nt-env`, tests/fixtures/nt_golden.json)
guard it: if a jax upgrade changes what these names mean, tests/theory/test_nt_compat.py fails.

Use: `from theory._nt_compat import nt` (never `import neural_tangents` directly).
"""

from __future__ import annotations

import sys
import types

import jax
import jax.core
import jax.interpreters.ad
from jax._src import ad_util as _ad_util
from jax._src import core as _core
from jax._src import util as _util

# Names removed from the public `jax.core` / `jax.util` after jax 0.5 that neural-tangents imports.
_CORE_NAMES = (
    "AbstractValue",
    "Jaxpr",
    "JaxprEqn",
    "Literal",
    "Primitive",
    "ShapedArray",
    "Value",
    "Var",
)
for _name in _CORE_NAMES:
    if not hasattr(jax.core, _name):
        setattr(jax.core, _name, getattr(_core, _name))
# `jax.util` itself is gone; neural-tangents only takes safe_map/safe_zip from it.
if "jax.util" not in sys.modules:
    _jax_util = types.ModuleType("jax.util")
    _jax_util.safe_map, _jax_util.safe_zip = _util.safe_map, _util.safe_zip
    sys.modules["jax.util"] = _jax_util

# Removed from `jax.interpreters.ad`; neural-tangents keys its structure rules on it.
if not hasattr(jax.interpreters.ad, "zeros_like_p"):
    jax.interpreters.ad.zeros_like_p = _ad_util.zeros_like_p

_experimental = types.ModuleType("neural_tangents.experimental")
_experimental.__path__ = []  # an empty package: its tf-only submodules are never imported
sys.modules.setdefault("neural_tangents.experimental", _experimental)

import neural_tangents as nt  # noqa: E402

__all__ = ["nt"]
