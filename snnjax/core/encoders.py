"""Encoders: batch-major data in, time-major currents or spikes out.

- ``direct``: the analog input at every step (``[B, ...] -> [T, B, ...]``).
- ``rate``: Bernoulli spikes with probability equal to the pixel intensity, drawn per step with an
  explicit PRNG key (llc-lif paper's rate coding).
- ``pixel``: Seq-MNIST, one pixel per step in raster order (``[B, H, W, C] -> [H·W, B, C]``).
- ``permuted_pixel``: PS-MNIST, the same after one fixed random permutation of the H·W positions.
- ``sequence``: data that already has a time axis (``[B, T, ...] -> [T, B, ...]``): adding problem,
  copy memory, neuromorphic frames.
- ``latency``: one spike per input, earlier for larger values (snnTorch ``spikegen.latency(linear=True,
  normalize=True)``, SpikingJelly ``LatencyEncoder(enc_function="linear")``).
- ``delta``: spikes where a sequence rises by at least a threshold from one step to the next
  (snnTorch ``spikegen.delta``), ``[B, T, ...] -> [T, B, ...]``.

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

from snnjax.core import flat_random
from snnjax.core.registry import Registry

Array = jax.Array


STACKED_COPIES_MAX = 64  # up to this many copies, repeat() stacks them (see its docstring)


def repeat(x: Array, copies: int, axis: int = 0) -> Array:
    """``x`` repeated ``copies`` times along a new ``axis``: ``jnp.stack([x] * copies, axis)``.

    Equal to ``jnp.broadcast_to`` of ``jnp.expand_dims(x, axis)``, but for up to
    :data:`STACKED_COPIES_MAX` copies written as a stack, whose gradient is the sum of the copies'
    cotangents as ``copies - 1`` elementwise adds (one fused loop). The broadcast's gradient is a
    ``reduce_sum`` over the new axis, which XLA:CPU (jax 0.10, YNNPACK reductions) runs slowly for a
    leading axis: 75.6 ms against 20.0 ms for the gradient of ``[8, 16, 28, 28, 128]``, the seed
    net's first conv output repeated over T = 8 (``python -m bench.cpu_ops``, 2-core CPU, float32).
    The values are equal (bitwise in that case: the same additions in the same order).
    """
    if copies > STACKED_COPIES_MAX:
        return jnp.broadcast_to(jnp.expand_dims(x, axis), x.shape[:axis] + (copies,) + x.shape[axis:])
    return jnp.stack([x] * copies, axis)


def direct(x: Array, time_steps: int) -> Array:
    """Repeats the analog input: ``[B, ...] -> [T, B, ...]`` (:func:`repeat`)."""
    return repeat(x, time_steps)


def rate(x: Array, time_steps: int, key: Array) -> Array:
    """Bernoulli rate coding: ``s_t ~ Bernoulli(clip(x, 0, 1))`` independently per step."""
    p = jnp.broadcast_to(jnp.clip(x.astype(jnp.float32), 0.0, 1.0), (time_steps,) + x.shape)
    return flat_random.bernoulli(key, p).astype(x.dtype)


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


def latency(x: Array, time_steps: int, threshold: float = 0.01, clip: bool = False) -> Array:
    """Linear latency code: one spike per input at step :math:`t_f = \\mathrm{round}((T-1)(1 - \\max(x, \\vartheta)))`.

    ``x`` in [0, 1]: 1 fires at step 0, inputs at or below ``threshold`` ϑ at the last step (snnTorch's
    ``latency(num_steps=T, linear=True, normalize=True, threshold=ϑ)``), or never with ``clip=True``.
    ``[B, ...] -> [T, B, ...]`` in ``x``'s dtype.
    """
    xf = x.astype(jnp.float32)
    t_fire = jnp.round((time_steps - 1) * (1 - jnp.maximum(xf, threshold)))
    steps = jnp.arange(time_steps, dtype=jnp.float32).reshape((time_steps,) + (1,) * x.ndim)
    spikes = steps == t_fire[None]
    if clip:
        spikes = spikes & (xf >= threshold)[None]
    return spikes.astype(x.dtype)


def delta(x_seq: Array, threshold: float = 0.1, padding: bool = False, off_spike: bool = False) -> Array:
    """Delta modulation of a time-major sequence (snnTorch ``spikegen.delta``).

    .. math::  s_t = H(x_t - x_{t-1} - \\vartheta) \\;[- H(x_{t-1} - x_t - \\vartheta) \\text{ with off_spike}],

    with :math:`x_{-1} = 0` (or :math:`x_0` with ``padding``).
    """
    first = x_seq[:1] if padding else jnp.zeros_like(x_seq[:1])
    diff = x_seq - jnp.concatenate([first, x_seq[:-1]], axis=0)
    on = (diff >= threshold).astype(x_seq.dtype)
    return on - (diff <= -threshold).astype(x_seq.dtype) if off_spike else on


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
    "latency": Encoder(lambda x, time_steps, key, permutation_seed: latency(x, time_steps)),
    "delta": Encoder(lambda x, time_steps, key, permutation_seed: delta(sequence(x))),
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
