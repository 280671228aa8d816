"""runtime.timing: compile apart, repeats interleaved, outputs returned."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from runtime import timing


def test_time_fns_reports_compile_and_repeats():
    f = jax.jit(lambda x: jnp.sin(x) @ x.T)
    g = jax.jit(lambda x: x.sum())
    x = jnp.ones((64, 64))
    ts, outs = timing.time_fns({"f": f, "g": g}, x, repeats=4)
    for name in ("f", "g"):
        t = ts[name]
        assert len(t.times) == 4 and t.compile_s > 0
        assert t.min_s <= t.median_s <= max(t.times)
    assert float(outs["g"]) == 64 * 64


def test_time_fn_and_timed():
    t, out = timing.time_fn(lambda a: a + 1, jnp.zeros(3), repeats=1)
    assert t.times == (t.min_s,) and out.tolist() == [1.0, 1.0, 1.0]
    out, s = timing.timed(lambda: 7)
    assert out == 7 and s >= 0
    with pytest.raises(ValueError, match="repeats"):
        timing.time_fn(lambda a: a, jnp.zeros(1), repeats=0)


def test_a_failed_candidate_is_recorded_as_its_type_and_first_line():
    e = RuntimeError("RESOURCE_EXHAUSTED: out of memory allocating 8 GiB\n  traceback detail")
    assert (
        timing.failure_text(e) == "RuntimeError: RESOURCE_EXHAUSTED: out of memory allocating 8 GiB"
    )
    assert timing.failure_text(ValueError()) == "ValueError: "
    assert len(timing.failure_text(OSError("x" * 1000))) == len("OSError: ") + 160


def test_matmul_rate_counts_the_flops_of_a_square_product():
    flops, t = timing.matmul_rate(jnp.ones((64, 64), jnp.float32), repeats=3)
    assert flops == 2 * 64**3 and 0 < t.min_s <= t.median_s and len(t.times) == 3
    with pytest.raises(ValueError, match="square"):
        timing.matmul_rate(jnp.ones((4, 8)))
