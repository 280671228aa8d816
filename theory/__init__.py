"""Closed forms and their finite-sample estimators, one module per topic."""

from theory import _xla_cpu

_xla_cpu.apply()
