"""Suite-wide settings: strict rank promotion, persistent compile cache, hypothesis profile."""

from __future__ import annotations

import os
import pathlib

import jax
import pytest

import runtime  # noqa: F401  (first: the XLA flags this jaxlib needs, before jax starts)

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Persistent XLA compilation cache: reruns of the suite skip most compile time (Makefile sets the
# same directory; CI keeps it between steps of one run).
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".jax_cache"))
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
jax.config.update("jax_numpy_rank_promotion", "raise")

try:
    from hypothesis import settings

    settings.register_profile("repo", deadline=None, max_examples=25, derandomize=True)
    settings.load_profile("repo")
except ImportError:  # hypothesis is a dev dependency; the suite needs it
    pass


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield
