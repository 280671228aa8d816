"""Every registered experiment's quick preset through main([...]), outputs checked; determinism."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from experiments._lib import io, registry

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLAIM_KEYS = {"id", "claim", "where", "paper_value", "measured", "tolerance", "status", "evidence"}
STATUSES = {"reproduced", "not reproduced", "measured"}

# A small config for the determinism and sharding checks (the quick preset runs in the smoke test).
TINY = [
    "--set",
    "K=24",
    "--set",
    "runs=4",
    "--set",
    "t_factors=1,10,1000",
    "--set",
    "k_sweep=12,24",
    "--set",
    "k_sweep_T=1e6",
    "--set",
    "bench_runs=1",
    "--set",
    "algorithms=uniform,log,loglog",
]


@pytest.mark.parametrize("name", registry.names())
def test_quick_preset_runs_and_writes_outputs(name, tmp_path):
    module = registry.load(name)
    out = tmp_path / name
    assert module.main(["--preset", "quick", "--out", str(out)]) == 0
    results = io.read_json(out / "results.json")
    assert {"schema", "experiment", "preset", "config", "metrics", "series", "claims"} <= set(
        results
    )
    assert results["experiment"] == name and results["preset"] == "quick"
    assert results["claims"], "an experiment must check at least one claim"
    for c in results["claims"]:
        assert set(c) == CLAIM_KEYS and c["status"] in STATUSES
    manifest = io.read_json(out / "manifest.json")
    for key in ("git", "versions", "devices", "xla_flags", "wall_seconds", "argv", "config"):
        assert key in manifest
    pngs = sorted(p.name for p in out.glob("fig_*.png"))
    assert pngs and all((out / p.replace(".png", ".pdf")).exists() for p in pngs)
    # Figures are a pure function of results.json: redraw into a fresh folder from the file alone.
    redraw = tmp_path / "redraw"
    redraw.mkdir()
    module.plot(results, redraw)
    assert sorted(p.name for p in redraw.glob("fig_*.png")) == pngs


def _python_m(module: str, args=(), env_extra=None, timeout=900):
    """`python -m <module> <args>` from the repo root, as a researcher runs it."""
    env = dict(os.environ, **(env_extra or {}))
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _run(args, env_extra=None):
    proc = _python_m("experiments.streaming_bandit_regret", args, env_extra)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _deterministic_part(path):
    results = json.loads(pathlib.Path(path).read_text())
    results.pop("timing")  # wall-clock speed measurements are the one non-seeded part
    return results


def test_same_seed_same_results_and_sharding_invariance(tmp_path):
    one_a, one_b, four = tmp_path / "a", tmp_path / "b", tmp_path / "four"
    _run([*TINY, "--out", str(one_a)])
    _run([*TINY, "--out", str(one_b)])
    assert _deterministic_part(one_a / "results.json") == _deterministic_part(
        one_b / "results.json"
    )
    flags = "--xla_force_host_platform_device_count=4"
    _run([*TINY, "--out", str(four)], {"XLA_FLAGS": flags})
    manifest = io.read_json(four / "manifest.json")
    # the manifest records the flags in force: ours plus the ynn-fusion workaround that
    # runtime/xla_flags.py appends on import
    assert manifest["devices"]["device_count"] == 4
    assert manifest["xla_flags"].split() == [flags, "--xla_cpu_experimental_ynn_fusion_type="]
    assert _deterministic_part(four / "results.json") == _deterministic_part(one_a / "results.json")


def test_python_m_experiments_lists_every_experiment():
    proc = _python_m("experiments", timeout=300)
    assert proc.returncode == 0
    for name in registry.names():
        assert name in proc.stdout


def test_cli_subprocess_bad_input_exit_2(tmp_path):
    proc = _python_m(
        "experiments.streaming_bandit_regret",
        ["--set", "K=1", "--out", str(tmp_path / "x")],
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "K must be >= 2" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "x").exists()
