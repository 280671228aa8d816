"""The Makefile's pytest guard: a crashed or hung worker ends the run with a failure, not a hang.

xdist 3.8's loadgroup scheduler deadlocks after it replaces a crashed worker (pytest-xdist#1323,
#1327); the slow tier hung so twice after an XLA:CPU segfault. The guard (--max-worker-restart=0
and pytest 9's faulthandler_exit_on_timeout) is read from the Makefile, so this test checks the
flags every tier runs with, on a throwaway suite with one segfault and one hang.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[2]

SUITE = textwrap.dedent(
    """
    import ctypes, time
    def test_before(): pass
    def test_segfault(): ctypes.string_at(0)
    def test_hang(): time.sleep(600)
    def test_after(): pass
    """
)


def _guard(hang_s: int) -> list[str]:
    make = (ROOT / "Makefile").read_text()
    flags = re.search(r"^PYTEST_GUARD = (.+)$", make, re.M)
    assert flags, "Makefile has no PYTEST_GUARD"
    # each target appends its hang limit (`$(PYTEST_GUARD)=$(HANG_S)`); a short one here
    return (flags.group(1) + f"={hang_s}").split()


def test_crash_and_hang_end_the_run(tmp_path):
    (tmp_path / "test_throwaway.py").write_text(SUITE)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    cmd += ["-n", "2", "--dist", "loadgroup", *_guard(3), "test_throwaway.py"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # unguarded this suite never ends (xdist 3.8, 2026-12-05: killed at 60 s); guarded it ends
    # in ~5 s (the 3 s hang limit plus two workers' start-up); 120 s allows a loaded machine.
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout[-2000:]
    assert "crashed while running 'test_throwaway.py::test_segfault'" in out.stdout
    assert "crashed while running 'test_throwaway.py::test_hang'" in out.stdout
