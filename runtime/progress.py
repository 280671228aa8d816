"""Progress bars (tqdm) for long work in any layer; quiet off a terminal and under CI.

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


def enabled() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def bar(iterable=None, **kwargs):
    kwargs.setdefault("disable", not enabled())
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return _Bar(iterable, **kwargs)
