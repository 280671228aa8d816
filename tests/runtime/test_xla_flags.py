"""The XLA:CPU ynn-fusion workaround is tied to jaxlib versions and cannot be silently off.

jaxlib 0.10.2's ynn fusion returned ~1e30 for the jitted O(L^2) linear attention at L = 2048
(runtime/xla_flags.py). XLA reads XLA_FLAGS once, when jax starts its backend, so a process that
started jax before importing this repository must be refused, not run with wrong numbers.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from runtime import xla_flags

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _python(code: str, xla_flags_env: str | None):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if xla_flags_env is not None:
        env["XLA_FLAGS"] = xla_flags_env
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT
    )


def test_in_force_in_this_process():
    assert xla_flags.in_force()
    assert xla_flags.FLAG in os.environ["XLA_FLAGS"].split()


def test_tied_to_examined_jaxlib_versions():
    assert xla_flags.required_flags("0.10.2") == (xla_flags.FLAG,)
    assert xla_flags.jaxlib_version() in xla_flags.EXAMINED  # the pinned jaxlib was examined
    with pytest.raises(xla_flags.XlaFlagError, match="has not been examined"):
        xla_flags.required_flags("0.99.0")


def test_an_examined_verdict_from_gpu_check_is_honoured(monkeypatch):
    monkeypatch.setenv("MEMLEARN_XLA_EXAMINED", "0.99.0=clean")
    assert xla_flags.required_flags("0.99.0") == ()
    monkeypatch.setenv("MEMLEARN_XLA_EXAMINED", "0.99.0=flag")
    assert xla_flags.required_flags("0.99.0") == (xla_flags.FLAG,)
    with pytest.raises(xla_flags.XlaFlagError):  # a verdict for another version does not count
        xla_flags.required_flags("0.99.1")


def test_flags_appended_once():
    f = xla_flags.flags_with_workaround("--a=1", (xla_flags.FLAG,))
    assert f == f"--a=1 {xla_flags.FLAG}"
    assert xla_flags.flags_with_workaround(f, (xla_flags.FLAG,)) == f


def test_backend_started_without_the_flag_is_refused():
    out = _python("import jax; jax.devices(); import theory", None)
    assert out.returncode != 0
    assert "XlaFlagError" in out.stderr and "started its backend before" in out.stderr


def test_backend_started_with_the_flag_is_accepted():
    out = _python(
        "import jax; jax.devices(); import theory, kernels, models, experiments; print('ok')",
        xla_flags.FLAG,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_repo_import_before_jax_sets_the_flag():
    code = "import runtime, os, jax; jax.devices(); print(os.environ['XLA_FLAGS'])"
    out = _python(code, "--xla_force_host_platform_device_count=2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["--xla_force_host_platform_device_count=2", xla_flags.FLAG]


def test_the_flag_set_to_another_value_is_refused():
    out = _python("import runtime", "--xla_cpu_experimental_ynn_fusion_type=dot")
    assert out.returncode != 0 and "another value" in out.stderr


def test_script_prints_the_flags_for_the_makefile():
    out = subprocess.run(
        [sys.executable, str(ROOT / "runtime" / "xla_flags.py")],
        env={**os.environ, "XLA_FLAGS": "--a=1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["--a=1", xla_flags.FLAG]


@pytest.mark.slow
def test_the_pinned_jaxlib_still_needs_the_flag():
    """Why the flag is there: with the fusions on, jit differs from eager by ~1e30 (two fresh
    processes, ~15 s). If this starts failing after an upgrade, the flag can go."""
    assert xla_flags.probe_ynn_bug(fusions_on=True) > 1e3
    assert xla_flags.probe_ynn_bug(fusions_on=False) < 1e-3
