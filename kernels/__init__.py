"""Pallas kernels, each beside its plain-jnp reference and a dispatcher (see kernels/_dispatch.py)."""
