"""Runnable reproductions: one module per experiment (see WORKSPACE.md for the contract)."""

from theory import _xla_cpu

_xla_cpu.apply()
