"""The one assertion module: a dtype tolerance table and helpers over chex/numpy.testing."""

from __future__ import annotations

import chex
import jax.numpy as jnp
import numpy as np

# (rtol, atol) by dtype: float64 for theory (round-off only), float32 for kernels and NN code
# (24-bit mantissa, accumulations of ~1e3 terms), bfloat16 (8-bit mantissa).
TOL = {
    jnp.dtype("float64"): (1e-10, 1e-12),
    jnp.dtype("float32"): (2e-5, 1e-6),
    jnp.dtype("bfloat16"): (2e-2, 1e-2),
}


def tol(dtype) -> tuple[float, float]:
    return TOL[jnp.dtype(dtype)]


def assert_close(actual, expected, *, dtype=None, rtol=None, atol=None, err_msg=""):
    """allclose with the dtype's tolerances unless given; shapes must match exactly."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    chex.assert_equal_shape([actual, expected])
    d_rtol, d_atol = tol(dtype or jnp.float64)
    np.testing.assert_allclose(
        actual,
        expected,
        rtol=d_rtol if rtol is None else rtol,
        atol=d_atol if atol is None else atol,
        err_msg=err_msg,
    )


def assert_within_se(estimate, target, se, *, k: float = 4.0, what: str = ""):
    """|estimate - target| <= k standard errors (k = 4: a false alarm rate ~6e-5 per check)."""
    assert abs(estimate - target) <= k * se, (
        f"{what}: {estimate:.6g} vs {target:.6g}, {abs(estimate - target) / se:.2f} SE (> {k})"
    )


def sampled_grid(cases, k: int, *, cover: int | None = 0, seed: int = 0):
    """pytest params for a parameter grid: a deterministic sample of k cases runs in the fast
    suite, every other case carries the `slow` mark (`make test-slow` runs them), so the two tiers
    together cover the whole grid (neural-tangents' generated-cases count, made deterministic).

    cases: list of tuples (one per case, as `parametrize("a,b", ...)` takes them). cover: the
    sample first takes one case for every value of that position (every implementation, every
    algorithm), then fills up to k at random; None: k at random."""
    import random

    import pytest

    cases = [c if isinstance(c, tuple) else (c,) for c in cases]
    rng = random.Random(seed)
    order = rng.sample(range(len(cases)), len(cases))
    chosen: list[int] = []
    if cover is not None:
        seen = set()
        for i in order:
            if repr(cases[i][cover]) not in seen:
                seen.add(repr(cases[i][cover]))
                chosen.append(i)
    chosen += [i for i in order if i not in chosen][: max(0, k - len(chosen))]
    return [
        pytest.param(*c, marks=() if i in chosen else pytest.mark.slow) for i, c in enumerate(cases)
    ]


# Time allowances (`@pytest.mark.budget(allowance_s(measured))`) for the tests whose time in a
# cold `make test` (2 xdist workers on 2 cores) is over the suite's per-test limit or within 1.5x
# of it. Two CI runs of one suite took 2517 s and 3229 s (x1.28 from run to run, same machine type
# as the measurements), and which tests share the cores at a given moment changes from run to run
# (x1.2-1.4 between two runs here): allowance = 2 x measured (>= 1.28 x 1.4).
def allowance_s(measured_s: float) -> float:
    return 2.0 * measured_s


def assert_refused(main, name: str, argv: list[str], message: str, tmp_path, capsys) -> None:
    """`main([*argv, "--out", tmp_path/"out"])` is bad input: exit 2, one stderr line
    "<name>: error: ..." containing `message`, and nothing written under tmp_path."""
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert err[0].startswith(f"{name}: error:")
    assert not out.exists() and list(tmp_path.iterdir()) == []
