"""Closed forms and their finite-sample estimators, one module per topic."""

import runtime  # noqa: F401  (first: XLA flags before jax starts its backend)
