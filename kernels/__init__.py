"""Pallas kernels, each beside its plain-jnp reference and a dispatcher (kernels/_dispatch.py)."""

import runtime  # noqa: F401  (first: XLA flags before jax starts its backend)
