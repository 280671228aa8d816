"""runtime.compile_options: when the per-program options apply, and that this jaxlib takes them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from runtime import compile_options as CO


def test_quick_compile_on_cpu_unless_xla_flags_choose(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=")
    assert CO.quick_compile_options() == CO.QUICK_COMPILE
    for name in CO.QUICK_COMPILE:
        monkeypatch.setenv("XLA_FLAGS", f"--xla_cpu_experimental_ynn_fusion_type= --{name}=0")
        assert CO.quick_compile_options() == {}


def test_this_jaxlib_accepts_the_options():
    """An option XLA no longer knows would fail every bandit compile: caught here first."""
    f = jax.jit(lambda x: jnp.cumsum(jnp.sin(x)), compiler_options=CO.QUICK_COMPILE)
    x = jnp.linspace(0.0, 1.0, 7)
    np.testing.assert_array_equal(f(x), jax.jit(lambda x: jnp.cumsum(jnp.sin(x)))(x))
