"""Runnable reproductions: one module per experiment (see WORKSPACE.md for the contract)."""
