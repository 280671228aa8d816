"""Pallas kernels, each beside its plain-jnp reference and a dispatcher (kernels/_dispatch.py)."""
