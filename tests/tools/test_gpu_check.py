"""make gpu-check on a CPU machine: refuses in one line; its dry run lists every device check."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

from tests._asserts import allowance_s

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "gpu_check.py"

pytestmark = pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU is here")


def _run(*args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_refuses_without_a_gpu_in_one_line():
    out = _run()
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "no NVIDIA GPU" in out.stderr
    assert "Traceback" not in out.stderr


# 36 s in a cold `make test` (2026-12-02): a subprocess collecting the gpu tests
@pytest.mark.budget(allowance_s(36))
def test_dry_run_lists_every_gpu_test_and_benchmark():
    out = _run("--dry-run")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    gpu_tests = [line.strip() for line in lines if "::" in line]
    # every kernel module with a compiled case is covered
    for kernel in ("test_logmatmul", "test_cnn_gram", "test_linear_attention"):
        assert any(kernel in t for t in gpu_tests), kernel
    benches = sorted(p.stem for p in (ROOT / "experiments").glob("bench_*.py"))
    for b in benches:
        assert any(f"experiments.{b} --preset" in line and "config ok" in line for line in lines)
