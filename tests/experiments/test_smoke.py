"""Every experiment's smoke preset through main([...]) with its outputs checked; one 4-device run
of every smoke preset against the in-process ones (sharding and determinism at once); the quick
presets in the slow tier (`make test-slow`)."""

from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

from experiments._lib import io, registry

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLAIM_KEYS = {"id", "claim", "where", "paper_value", "measured", "tolerance", "status", "evidence"}
STATUSES = {"reproduced", "not reproduced", "measured"}
NAMES = registry.names()


@pytest.fixture(scope="session")
def smoke_dir(tmp_path_factory):
    """Where the in-process smoke runs land; the 4-device test compares against them."""
    return tmp_path_factory.mktemp("smoke")


def _check_outputs(module, name, preset, out, tmp_path):
    results = io.read_json(out / "results.json")
    assert {"schema", "experiment", "preset", "config", "metrics", "series", "claims"} <= set(
        results
    )
    assert results["experiment"] == name and results["preset"] == preset
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


@pytest.mark.parametrize("name", NAMES)
def test_smoke_preset_runs_and_writes_outputs(name, smoke_dir, tmp_path):
    module = registry.load(name)
    assert "smoke" in module.PRESETS, f"experiments.{name} has no smoke preset (contract)"
    out = smoke_dir / name
    assert module.main(["--preset", "smoke", "--out", str(out)]) == 0
    _check_outputs(module, name, "smoke", out, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_quick_preset_runs_and_writes_outputs(name, tmp_path):
    module = registry.load(name)
    out = tmp_path / name
    assert module.main(["--preset", "quick", "--out", str(out)]) == 0
    _check_outputs(module, name, "quick", out, tmp_path)


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


def _deterministic_part(path):
    results = json.loads(pathlib.Path(path).read_text())
    results.pop("timing")  # wall-clock speed measurements are the one non-seeded part
    return results


def _differences(a, b, path="", rtol=0.0):
    """Paths where two JSON trees differ (floats beyond rtol; everything else exactly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a for d in _differences(a[k], b[k], f"{path}.{k}", rtol)]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: lengths {len(a)} vs {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]", rtol)
        ]
    if isinstance(a, float) and isinstance(b, float) and rtol:
        ok = math.isclose(a, b, rel_tol=rtol, abs_tol=rtol)
        return [] if ok else [f"{path}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


# Experiments whose batch reductions cross devices when sharded (EM flows summed over images
# split across devices): their float sums may differ in the last bits from one device, so they
# are compared to a relative 1e-4 (float32 sums of <= 1e3 terms differ by at most ~1e3 ulp =
# 1e-4 relative; the claims' statuses and every integer must still match exactly).
CROSS_DEVICE_REDUCTIONS = {"pc_compression": 1e-4}


# One subprocess runs every smoke preset on 4 simulated devices: the compilations for a 4-device
# mesh are its own (a cold cache cannot share them with the 1-device runs), so this one test is
# the size of the whole smoke tier, ~2 min cold on 2 cores; it replaces one 4-device run per
# experiment.
@pytest.mark.budget(300)
def test_every_smoke_preset_same_on_four_devices(smoke_dir, tmp_path):
    """Sharding invariance and determinism at once: a fresh process on 4 simulated devices gives
    the same results.json as the in-process smoke run of each experiment."""
    for name in NAMES:  # in-process runs the smoke tests left (or run now, if deselected)
        if not (smoke_dir / name / "results.json").exists():
            assert (
                registry.load(name).main(["--preset", "smoke", "--out", str(smoke_dir / name)]) == 0
            )
    four = tmp_path / "four"
    code = (
        "from experiments._lib import registry\n"
        f"out = {str(four)!r}\n"
        "for n in registry.names():\n"
        "    assert registry.load(n).main(['--preset', 'smoke', '--out', f'{out}/{n}']) == 0, n\n"
    )
    flags = "--xla_force_host_platform_device_count=4"
    env = dict(os.environ, XLA_FLAGS=flags, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    bad = []
    for name in NAMES:
        manifest = io.read_json(four / name / "manifest.json")
        assert manifest["devices"]["device_count"] == 4
        # the flags in force: ours plus the ynn-fusion workaround runtime/xla_flags.py appends
        assert manifest["xla_flags"].split() == [flags, "--xla_cpu_experimental_ynn_fusion_type="]
        diffs = _differences(
            _deterministic_part(smoke_dir / name / "results.json"),
            _deterministic_part(four / name / "results.json"),
            rtol=CROSS_DEVICE_REDUCTIONS.get(name, 0.0),
        )
        bad += [f"{name}{d}" for d in diffs[:5]]
    assert not bad, "\n".join(bad)


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
