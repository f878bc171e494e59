"""Time-consistent dropout for the NNX modules: one mask per sample for all T steps, the key explicit."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from snnjax.core import flat_random

Array = jax.Array


def time_consistent_dropout(x: Array, rate: float, key: Array | None, *, train: bool) -> Array:
    """Dropout on ``[T, B, ...]`` with one mask per sample for all T steps (kept units ``/ (1 − rate)``)."""
    if not train or rate == 0.0:
        return x
    if key is None:
        raise ValueError("dropout in training needs a PRNG key: call the model with key=...")
    if rate == 1.0:
        return jnp.zeros_like(x)
    keep = 1.0 - rate
    mask = jnp.broadcast_to(flat_random.bernoulli(key, keep, (1,) + x.shape[1:]), x.shape)
    return jax.lax.select(mask, x / jnp.asarray(keep, x.dtype), jnp.zeros_like(x))
