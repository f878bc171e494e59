"""The precision of reductions (statistics, attention): at least float32, float64 in a float64 model."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def at_least_float32(x: jax.Array) -> jnp.dtype:
    """``float64`` for a float64 ``x``, else ``float32`` (bfloat16 and float16 activations are promoted)."""
    return jnp.dtype(jnp.float64 if x.dtype == jnp.float64 else jnp.float32)
