"""Flax modules and numerical models (trained or fitted), and the one training loop (train.py)."""

import runtime  # noqa: F401  (first: XLA flags before jax starts its backend)
