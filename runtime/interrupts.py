"""Ctrl-C that is never lost.

Python runs a signal's handler at the next bytecode of the main thread, whatever frame that is.
When that frame is a garbage-collector callback or a `__del__`, the KeyboardInterrupt the default
handler raises is printed as "Exception ignored in ..." and dropped: the run goes on to completion
and replaces the previous results. That is what happened to `fewshot_retention` when the signal
landed while the tokenizer encoded the corpus (allocation-heavy, so gc runs, and jax registers a gc
callback, `_xla_gc_callback`): exit 0 with the folder replaced, in 3 of 8 tries between 4 and 5.5 s
(tools/bad_input_campaign.py, 2026-12-04; diagnosed with a faulthandler stack dump at the signal).

`install()` puts a handler in place that records the signal before raising, so a raise that is
swallowed still leaves `pending()` true, and `check()` raises it again at a point that cannot
swallow it: `experiments._lib.cli.run_to_dir` checks after the run and again just before the
results folder is committed, so an interrupted run never replaces the previous results. Off the
main thread, or where SIGINT has a handler other than Python's default (a host that installed its
own), `install()` leaves it alone.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

_pending = False


def _handler(signum, frame):
    global _pending
    _pending = True
    raise KeyboardInterrupt


def _exit_before_work(signum, frame):
    sys.stderr.write("interrupted while starting (imports); nothing written\n")
    sys.stderr.flush()
    os._exit(130)


def exit_on_sigint_while_starting() -> None:
    """For `python -m experiments.<name>` only, from the package's import: a Ctrl-C during the
    imports (several seconds on a loaded machine: jax, the experiment's modules) exits 130 with
    one line, before any work, instead of a KeyboardInterrupt traceback and exit -2
    (set_disjointness at 6 s under tools/bad_input_campaign.py, 2026-12-04). `install()`, at the
    start of the CLI, replaces it. Never for a library import (a notebook's kernel, a test)."""
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _exit_before_work)


def install() -> bool:
    """Records SIGINT as well as raising it; True if the handler is (now) in place."""
    global _pending
    if threading.current_thread() is not threading.main_thread():
        return False
    current = signal.getsignal(signal.SIGINT)
    if current not in (_handler, _exit_before_work, signal.default_int_handler):
        return False
    _pending = False
    signal.signal(signal.SIGINT, _handler)
    return True


def pending() -> bool:
    """True once SIGINT has arrived since `install()`, whether or not its raise got through."""
    return _pending


def check() -> None:
    """Raises KeyboardInterrupt if SIGINT arrived, even if its first raise was swallowed."""
    if _pending:
        raise KeyboardInterrupt
