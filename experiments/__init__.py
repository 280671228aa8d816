"""Runnable reproductions: one module per experiment (see WORKSPACE.md for the contract)."""

import sys

import runtime  # noqa: F401  (first: XLA flags before jax starts its backend)

# `python -m experiments.<name>` imports this package while sys.argv[0] is still "-m" (the
# interpreter's documented behaviour while it locates the module): only then does a Ctrl-C
# during the imports exit 130 quietly (runtime/interrupts.py); a library import is left alone.
if sys.argv[:1] == ["-m"]:
    from runtime import interrupts as _interrupts

    _interrupts.exit_on_sigint_while_starting()
