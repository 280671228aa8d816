"""theory/_nt_compat.py vs golden values from unmodified neural-tangents on jax 0.5.3.

tests/fixtures/nt_golden.json was written by `make nt-env` (tools/nt_golden.py in .venv-nt).
Tolerance: float32 kernels; the fc ReLU NTK differs between the two jax versions by <= 3e-5
relative (arccos evaluated with different XLA float32 kernels), so rtol 1e-4 and atol 1e-5.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

PAPER = "cagnetta2023_wide_cnn"  # the paper this module's time is charged to (conftest)

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "nt_golden.json"
sys.path.insert(0, str(ROOT / "tools"))


def _compare(golden, ours):
    keys = [k for k in golden if not k.endswith("version")]
    assert keys
    for k in keys:
        np.testing.assert_allclose(
            np.array(ours[k]), np.array(golden[k]), rtol=1e-4, atol=1e-5, err_msg=k
        )


def test_compat_matches_unmodified_neural_tangents():
    import nt_golden

    from theory._nt_compat import nt

    golden = json.loads(FIXTURE.read_text())
    assert golden["jax_version"] == "0.5.3" and golden["nt_version"] == "0.6.5"
    _compare(golden, nt_golden.compute(nt))


def test_compat_imports_no_tensorflow():
    code = "import sys; from theory._nt_compat import nt; print('tensorflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-1000:]
    assert out.stdout.strip().endswith("False")


@pytest.mark.nt
def test_side_env_regenerates_the_fixture():
    py = ROOT / ".venv-nt" / "bin" / "python"
    if not py.exists():
        pytest.fail("side environment missing: run `make nt-env` first")
    out = subprocess.run(
        [str(py), str(ROOT / "tools" / "nt_golden.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-1000:]
    _compare(json.loads(FIXTURE.read_text()), json.loads(out.stdout))
