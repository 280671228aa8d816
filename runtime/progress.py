"""Progress bars (tqdm) for long work in any layer: shown at a terminal and in a Jupyter kernel
(a notebook, Colab), quiet elsewhere and under CI; MEMLEARN_PROGRESS=1 or 0 overrides both (1
into a log file redraws at most every LOG_INTERVAL_S seconds).

Each step of a bar is also a point where a Ctrl-C whose raise was swallowed elsewhere (in a gc
callback; runtime/interrupts.py) is raised again, so a long loop stops at its next step.
"""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm

from runtime import interrupts


class _Bar(tqdm):
    def __iter__(self):
        for x in super().__iter__():
            interrupts.check()
            yield x

    def update(self, n=1):
        interrupts.check()
        return super().update(n)


ON, OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
LOG_INTERVAL_S = 30.0  # a forced bar writing to a file: one line per this many seconds at most


def _forced() -> bool | None:
    v = os.environ.get("MEMLEARN_PROGRESS", "").strip().lower()
    if not v:
        return None
    if v in ON or v in OFF:
        return v in ON
    raise ValueError(f"MEMLEARN_PROGRESS must be one of {ON + OFF}, got {v!r}")


def _in_kernel() -> bool:
    """A Jupyter kernel (notebook, JupyterLab, Colab) runs this process: its stderr is no
    terminal, but its output shows a bar (tqdm.auto draws a widget where ipywidgets is installed,
    text otherwise)."""
    return "ipykernel.zmqshell" in sys.modules


def _interactive() -> bool:
    """Someone watches the output as it comes: a terminal, or a notebook's cell."""
    return sys.stderr.isatty() or _in_kernel()


def enabled() -> bool:
    forced = _forced()
    if forced is not None:
        return forced
    return _interactive() and not os.environ.get("CI")


def bar(iterable=None, **kwargs):
    on = enabled()
    kwargs.setdefault("disable", not on)
    if on and not _interactive():
        kwargs.setdefault("mininterval", LOG_INTERVAL_S)
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return _Bar(iterable, **kwargs)
