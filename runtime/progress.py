"""Progress bars (tqdm) for long work in any layer; quiet off a terminal and under CI."""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm


def enabled() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def bar(iterable=None, **kwargs):
    kwargs.setdefault("disable", not enabled())
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)
