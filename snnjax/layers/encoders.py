"""Encoders: batch-major data in, time-major currents or spikes out.

- ``direct``: the analog input at every step (``[B, ...] -> [T, B, ...]``).
- ``rate``: Bernoulli spikes with probability equal to the pixel intensity, drawn per step with an
  explicit PRNG key (llc-lif paper's rate coding).
- ``pixel``: Seq-MNIST, one pixel per step in raster order (``[B, H, W, C] -> [H·W, B, C]``).
- ``permuted_pixel``: PS-MNIST, the same after one fixed random permutation of the H·W positions.
- ``sequence``: data that already has a time axis (``[B, T, ...] -> [T, B, ...]``): adding problem,
  copy memory, neuromorphic frames.
"""

from __future__ import annotations

import numpy as np

import jax
import jax.numpy as jnp

Array = jax.Array

ENCODERS = ("direct", "rate", "pixel", "permuted_pixel", "sequence")


def direct(x: Array, time_steps: int) -> Array:
    """Repeats the analog input: ``[B, ...] -> [T, B, ...]``."""
    return jnp.broadcast_to(x[None], (time_steps,) + x.shape)


def rate(x: Array, time_steps: int, key: Array) -> Array:
    """Bernoulli rate coding: ``s_t ~ Bernoulli(clip(x, 0, 1))`` independently per step."""
    p = jnp.broadcast_to(jnp.clip(x.astype(jnp.float32), 0.0, 1.0), (time_steps,) + x.shape)
    return jax.random.bernoulli(key, p).astype(x.dtype)


def pixel(x: Array) -> Array:
    """One pixel per step, raster order: ``[B, H, W, C] -> [H·W, B, C]``."""
    b, h, w, c = x.shape
    return jnp.transpose(x.reshape(b, h * w, c), (1, 0, 2))


def fixed_permutation(length: int, seed: int = 0) -> np.ndarray:
    """The PS-MNIST permutation: one fixed permutation of ``range(length)`` drawn from ``seed``."""
    return np.random.default_rng(seed).permutation(length)


def permuted_pixel(x: Array, permutation: np.ndarray) -> Array:
    """PS-MNIST: pixels in the order of a fixed ``permutation``: ``[B, H, W, C] -> [H·W, B, C]``."""
    return pixel(x)[jnp.asarray(permutation)]


def sequence(x: Array) -> Array:
    """Batch-major sequences to time-major: ``[B, T, ...] -> [T, B, ...]``."""
    return jnp.swapaxes(x, 0, 1)


def encode(kind: str, x: Array, time_steps: int, key: Array | None = None, permutation_seed: int = 0) -> Array:
    """Dispatches on the encoder name; ``key`` is needed by ``rate`` only."""
    if kind == "direct":
        return direct(x, time_steps)
    if kind == "rate":
        if key is None:
            raise ValueError("rate coding needs a PRNG key")
        return rate(x, time_steps, key)
    if kind == "pixel":
        return pixel(x)
    if kind == "permuted_pixel":
        return permuted_pixel(x, fixed_permutation(int(np.prod(x.shape[1:3])), permutation_seed))
    if kind == "sequence":
        return sequence(x)
    raise ValueError(f"unknown encoder {kind!r}; choose one of {ENCODERS}")
