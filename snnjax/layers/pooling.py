"""Spatial pooling over time: k×k windows, stride k, NHWC, on the merged ``T·B`` batch."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from snnjax.layers.time import apply_merged

Array = jax.Array

POOLS = ("max", "avg")


def pool(x: Array, kind: str, k: int) -> Array:
    """``[T, B, H, W, C] -> [T, B, H // k, W // k, C]`` by max (spikes stay spikes) or average."""
    if kind not in POOLS:
        raise ValueError(f"pool kind must be one of {POOLS}, got {kind!r}")
    window = (1, k, k, 1)

    def one(z: Array) -> Array:
        # Python-scalar init values let JAX recognise the max/add monoids (differentiable reductions).
        if kind == "max":
            return jax.lax.reduce_window(z, -jnp.inf, jax.lax.max, window, window, "VALID")
        summed = jax.lax.reduce_window(z, 0.0, jax.lax.add, window, window, "VALID")
        return summed / jnp.asarray(k * k, z.dtype)

    return apply_merged(one, x)
