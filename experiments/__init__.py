"""Runnable reproductions: one module per experiment (see WORKSPACE.md for the contract)."""

import runtime  # noqa: F401  (first: XLA flags before jax starts its backend)
