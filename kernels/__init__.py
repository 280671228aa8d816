"""Pallas kernels, each beside its plain-jnp reference and a dispatcher (kernels/_dispatch.py)."""

from theory import _xla_cpu

_xla_cpu.apply()
