"""Encoders: batch-major data in, time-major currents or spikes out.

- ``direct``: the analog input at every step (``[B, ...] -> [T, B, ...]``).
- ``rate``: Bernoulli spikes with probability equal to the pixel intensity, drawn per step with an
  explicit PRNG key (llc-lif paper's rate coding).
- ``pixel``: Seq-MNIST, one pixel per step in raster order (``[B, H, W, C] -> [H·W, B, C]``).
- ``permuted_pixel``: PS-MNIST, the same after one fixed random permutation of the H·W positions.
- ``sequence``: data that already has a time axis (``[B, T, ...] -> [T, B, ...]``): adding problem,
  copy memory, neuromorphic frames.

Encoders are looked up by name in ``ENCODERS``; :func:`register` adds your own, which then works as
``config.model.encoder``::

    encoders.register("inverted", lambda x, time_steps, key, permutation_seed: encoders.direct(1 - x, time_steps))
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

import jax
import jax.numpy as jnp

from snnjax.registry import Registry

Array = jax.Array


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


EncoderFn = Callable[..., Array]  # fn(x, time_steps, key, permutation_seed) -> [T, B, ...]


@dataclasses.dataclass(frozen=True)
class Encoder:
    """An entry of ``ENCODERS``: ``fn(x, time_steps, key, permutation_seed) -> [T, B, ...]``.

    ``needs_key``: the model passes a PRNG key from its ``encoder`` RNG stream (stochastic codes).
    """

    fn: EncoderFn
    needs_key: bool = False


ENCODERS: Registry[Encoder] = Registry("encoder", {
    "direct": Encoder(lambda x, time_steps, key, permutation_seed: direct(x, time_steps)),
    "rate": Encoder(lambda x, time_steps, key, permutation_seed: rate(x, time_steps, key), needs_key=True),
    "pixel": Encoder(lambda x, time_steps, key, permutation_seed: pixel(x)),
    "permuted_pixel": Encoder(lambda x, time_steps, key, permutation_seed: permuted_pixel(
        x, fixed_permutation(int(np.prod(x.shape[1:3])), permutation_seed))),
    "sequence": Encoder(lambda x, time_steps, key, permutation_seed: sequence(x)),
})


def register(name: str, fn: EncoderFn | Encoder, *, needs_key: bool = False, overwrite: bool = False) -> Encoder:
    """Adds an encoder ``fn(x, time_steps, key, permutation_seed) -> [T, B, ...]`` under ``name``."""
    entry = fn if isinstance(fn, Encoder) else Encoder(fn, needs_key)
    return ENCODERS.register(name, entry, overwrite=overwrite)


def needs_key(kind: str) -> bool:
    """Whether encoder ``kind`` draws random numbers (the model then passes an ``encoder`` key)."""
    return ENCODERS.lookup(kind).needs_key


def encode(kind: str, x: Array, time_steps: int, key: Array | None = None, permutation_seed: int = 0) -> Array:
    """Runs the encoder named ``kind``; ``key`` is needed by stochastic encoders (``rate``) only."""
    entry = ENCODERS.lookup(kind)
    if entry.needs_key and key is None:
        raise ValueError(f"the {kind!r} encoder draws random numbers and needs a PRNG key")
    return entry.fn(x, time_steps, key, permutation_seed)
