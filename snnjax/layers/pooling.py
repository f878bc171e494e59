"""Spatial pooling over time: k×k windows, stride k, NHWC, on ``[T, B, H, W, C]``.

Flax's ``nn.max_pool`` and ``nn.pool`` take the leading ``T, B`` axes as batch axes. (Average pooling
is ``nn.pool``'s window sum divided by k²: ``nn.avg_pool`` divides by an int32 count, which JAX's
strict dtype promotion refuses.) The gradient
of a max pool goes to one element of each window: on ties (equal spikes) the first one in row-major
order, as PyTorch's ``MaxPool2d`` does.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array

POOLS = ("max", "avg")


def pool(x: Array, kind: str, k: int) -> Array:
    """``[T, B, H, W, C] -> [T, B, H // k, W // k, C]`` by max (spikes stay spikes) or average."""
    if kind not in POOLS:
        raise ValueError(f"pool kind must be one of {POOLS}, got {kind!r}")
    if kind == "max":
        return nn.max_pool(x, window_shape=(k, k), strides=(k, k), padding="VALID")
    summed = nn.pool(x, 0.0, jax.lax.add, window_shape=(k, k), strides=(k, k), padding="VALID")
    return summed / jnp.asarray(k * k, x.dtype)
