"""Merging the time axis into the batch axis, so a layer runs once on ``T·B`` examples."""

from __future__ import annotations

import jax

Array = jax.Array


def merge_time(x: Array) -> Array:
    """``[T, B, ...] -> [T·B, ...]``."""
    return x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:])


def split_time(x: Array, time_steps: int) -> Array:
    """``[T·B, ...] -> [T, B, ...]``."""
    return x.reshape((time_steps, x.shape[0] // time_steps) + x.shape[1:])


def apply_merged(fn, x: Array) -> Array:
    """Runs ``fn`` (a conv, a pool, a norm...) once on the merged ``[T·B, ...]`` batch."""
    return split_time(fn(merge_time(x)), x.shape[0])


def channels_last(v: Array, ndim: int) -> Array:
    """A per-channel vector ``[C]`` shaped ``[1, ..., 1, C]`` to broadcast against rank ``ndim``.

    Explicit, so the library also runs under ``jax_numpy_rank_promotion="raise"``.
    """
    return v.reshape((1,) * (ndim - 1) + (v.shape[-1],))
