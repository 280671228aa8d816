"""runtime.progress: when bars show (terminal, Jupyter kernel, MEMLEARN_PROGRESS) and how a bad
override is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

from runtime import progress


@pytest.fixture
def stderr_tty(monkeypatch):
    def set_tty(is_tty: bool):
        monkeypatch.setattr(sys.stderr, "isatty", lambda: is_tty, raising=False)

    monkeypatch.delenv("MEMLEARN_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel.zmqshell", raising=False)
    return set_tty


def test_shown_at_a_terminal_and_in_a_kernel_quiet_elsewhere_and_under_ci(stderr_tty, monkeypatch):
    stderr_tty(False)
    assert not progress.enabled()  # a log file or a pipe
    stderr_tty(True)
    assert progress.enabled()
    stderr_tty(False)
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))
    assert progress.enabled()  # a notebook: stderr is no terminal, the bar still shows
    monkeypatch.setenv("CI", "true")
    assert not progress.enabled()


def test_override_both_ways_and_a_forced_bar_into_a_file_redraws_rarely(stderr_tty, monkeypatch):
    stderr_tty(False)
    monkeypatch.setenv("MEMLEARN_PROGRESS", "1")
    assert progress.enabled()
    b = progress.bar(range(3))
    assert not b.disable and b.mininterval == progress.LOG_INTERVAL_S
    b.close()
    stderr_tty(True)
    monkeypatch.setenv("MEMLEARN_PROGRESS", "off")
    assert not progress.enabled() and progress.bar(range(3)).disable


def test_a_bad_override_is_one_line_before_any_work(tmp_path):
    out = tmp_path / "never"
    cmd = [
        sys.executable,
        "-m",
        "experiments.mecb_coupling",
        "--preset",
        "smoke",
        "--out",
        str(out),
    ]
    env = {**os.environ, "MEMLEARN_PROGRESS": "maybe"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "MEMLEARN_PROGRESS" in r.stderr
    assert not out.exists()
