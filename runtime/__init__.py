"""Process-level concerns every layer needs: XLA flags (checked in force), the device mesh and
batch sharding, named RNG streams, timing. The lowest layer: imports nothing of this repository.

Importing it puts the XLA flags this jaxlib needs in force (runtime/xla_flags.py), or raises if jax
already started its backend without them; theory/, kernels/, models/ and experiments/ import it
first for that reason.
"""

from runtime import xla_flags

xla_flags.apply()
