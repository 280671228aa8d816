"""Suite-wide settings: strict rank promotion, persistent compile cache, hypothesis profile."""

from __future__ import annotations

import json
import os
import pathlib
import time

import jax
import pytest

import runtime  # (first: the XLA flags this jaxlib needs, before jax starts)

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


@pytest.fixture(autouse=True)
def _gpu_tests_at_full_float32_precision(request):
    """`gpu`-marked tests check a compiled kernel's arithmetic against float32 tolerances
    (tests._asserts.TOL: 2e-5 relative). On a GPU a float32 dot at the default precision may run
    in TF32 (10-bit mantissa, ~1e-3 off; XLA's dots and Pallas-Triton's alike), which is a speed
    setting, not the kernels' math: those tests run at full float32 ("highest"). Benchmarks time
    the default. No effect on CPU, where the gpu tests are skipped."""
    if request.node.get_closest_marker("gpu") is None:
        yield
        return
    with jax.default_matmul_precision("highest"):
        yield


# --------------------------------------------------------------------------- the time budget
# The fast suite must stay under 12 minutes on a cold XLA cache on 2 cores with room for eight
# papers (~75 s of tests each). Each unmarked test gets at most LIMIT_S (setup + call): a slower
# test fails here and must be made faster or marked `slow` on purpose. A test that is one check
# of the whole repository (the 4-device run of every smoke preset) states its own allowance with
# `@pytest.mark.budget(seconds)` and the reason beside it. The per-paper totals and the slowest
# tests are printed at the end of every run.
LIMIT_S = float(os.environ.get("TEST_LIMIT_S", "60"))
_TIMES: dict[str, float] = {}
_PAPERS: dict[str, str] = {}


def _paper_of(item) -> str:
    """The paper a test's time is charged to: a parametrised experiment's or notebook's PAPER,
    else the test module's `PAPER`, else "shared" (layers, CLI, rendering)."""
    from experiments._lib import registry

    names = registry.names()
    for v in getattr(getattr(item, "callspec", None), "params", {}).values():
        if isinstance(v, str) and v in names:
            return getattr(registry.load(v), "PAPER", None) or "shared"
        if isinstance(v, pathlib.Path) and v.suffix == ".py" and v.parent.name == "colab":
            text = v.read_text()
            for n in names:
                if f"experiments.{n}" in text or f"experiments/{n}.py" in text:
                    return getattr(registry.load(n), "PAPER", None) or "shared"
    return getattr(item.module, "PAPER", "shared")


# The fast tier compiles with XLA's backend (LLVM) optimisation off and with XLA:CPU's loop
# emitters instead of its newer MLIR fusion emitters: on a cold cache the suite's time is
# compilation, and its tests check numbers against references and derived tolerances, never
# speed. Measured here (2026-12-03): the bandit scans compile 35% faster at level 0 (11.0 -> 7.2 s),
# and the fusion emitters off take another ~30% (four bandit programs 12.0 -> 8.2 s; the bandit,
# CNN-spectrum and JRT smoke presets 58 -> 37, 34 -> 24, 33 -> 21 s in one process), the bandit
# smoke results.json bitwise equal under both. The slow tier (`-m slow`: quick presets, full
# grids, notebooks) and every experiment run compile at XLA's defaults. TEST_XLA_OPT=default
# keeps the defaults here too.
FAST_TIER_XLA_FLAGS = ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false")


def _fast_tier(config) -> bool:
    expr = config.getoption("markexpr", "") or ""
    return "slow" not in expr.replace("not slow", "")


def pytest_configure(config):
    if _fast_tier(config) and os.environ.get("TEST_XLA_OPT", "") != "default":
        # Before any test module computes with jax (the backend reads XLA_FLAGS once); the
        # subprocesses tests start inherit it.
        assert not runtime.xla_flags.backend_started(), "jax started before the suite's flags"
        flags = os.environ.get("XLA_FLAGS", "").split()
        extra = [f for f in FAST_TIER_XLA_FLAGS if f not in flags]
        os.environ["XLA_FLAGS"] = " ".join(flags + extra)
    config.addinivalue_line(
        "markers", "budget(seconds): this test's own time allowance in the fast suite (say why)"
    )


def pytest_runtest_logreport(report):
    # Under pytest-xdist this runs in the worker and again in the controller (which never
    # collects): the paper travels with the report as a user property.
    _TIMES[report.nodeid] = _TIMES.get(report.nodeid, 0.0) + report.duration
    for key, value in report.user_properties:
        if key == "paper":
            _PAPERS[report.nodeid] = value


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not any(k == "paper" for k, _ in item.user_properties):
        item.user_properties.append(("paper", _paper_of(item)))
    rep.user_properties = list(item.user_properties)
    if rep.when != "call" or not rep.passed or item.get_closest_marker("slow"):
        return
    marker = item.get_closest_marker("budget")
    limit = float(marker.args[0]) if marker else LIMIT_S
    took = _TIMES.get(item.nodeid, 0.0) + rep.duration  # setup (already logged) + call
    if took > limit:
        rep.outcome = "failed"
        rep.longrepr = (
            f"took {took:.0f} s, over this test's fast-suite allowance of {limit:.0f} s: make "
            "it faster, or mark it `slow` (it then runs in make test-slow)"
        )


def pytest_sessionstart(session):
    _TIMES.clear()
    session.config._suite_t0 = time.monotonic()


def pytest_terminal_summary(terminalreporter, config):
    if not _TIMES:
        return
    per_paper: dict[str, float] = {}
    for nodeid, t in _TIMES.items():
        paper = _PAPERS.get(nodeid, "shared")
        per_paper[paper] = per_paper.get(paper, 0.0) + t
    tr = terminalreporter
    tr.section("time budget")
    wall = time.monotonic() - config._suite_t0
    tr.write_line(
        f"wall {wall:.0f} s; test durations sum to {sum(_TIMES.values()):.0f} s over "
        f"{len(_TIMES)} tests (workers run side by side); per paper:"
    )
    for paper, t in sorted(per_paper.items(), key=lambda kv: -kv[1]):
        tr.write_line(f"  {paper:<32} {t:7.1f} s")
    tr.write_line("slowest tests:")
    ranked = sorted(_TIMES.items(), key=lambda kv: -kv[1])
    for nodeid, t in ranked[:12]:
        tr.write_line(f"  {t:7.1f} s  {nodeid}")
    # every test's time, for finding what to speed up (TEST_TIMES_FILE; git-ignored default)
    out = pathlib.Path(os.environ.get("TEST_TIMES_FILE", ROOT / ".test_times.json"))
    try:
        out.write_text(json.dumps({
            "wall_s": round(wall, 1),
            "per_paper_s": {p: round(t, 1) for p, t in per_paper.items()},
            "tests": [{"id": n, "s": round(t, 2), "paper": _PAPERS.get(n, "shared")}
                      for n, t in ranked],
        }, indent=1))  # fmt: skip
        tr.write_line(f"every test's time: {out}")
    except OSError as e:  # a read-only checkout still gets the summary above
        tr.write_line(f"(could not write {out}: {e})")
