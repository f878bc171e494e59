"""Time-consistent dropout for the NNX modules: one mask per sample for all T steps, the key explicit
(:func:`snnjax.layers.dropout.dropout` with the mask shared along time)."""

from __future__ import annotations

from typing import Sequence

import jax

from snnjax.nn.layers.dropout import dropout

Array = jax.Array


def keyed_dropout(x: Array, rate: float, key: Array | None, *, train: bool, broadcast_dims: Sequence[int] = (),
                  what: str = "dropout") -> Array:
    """:func:`snnjax.layers.dropout.dropout` in training with an explicit ``key``; identity otherwise."""
    if not train or rate == 0.0:
        return x
    if key is None:
        raise ValueError(f"{what} in training needs a PRNG key: call the model with key=...")
    return dropout(x, rate, key, broadcast_dims)


def time_consistent_dropout(x: Array, rate: float, key: Array | None, *, train: bool) -> Array:
    """Dropout on ``[T, B, ...]`` with one mask per sample for all T steps (kept units ``/ (1 − rate)``)."""
    return keyed_dropout(x, rate, key, train=train, broadcast_dims=(0,))
