"""``jax.random`` draws computed over the flat shape and reshaped: the same numbers, compiled faster.

With the threefry PRNG (JAX's default), the bits of ``jax.random.bits(key, shape)`` are a function
of each element's linear index alone, so for any shape

    jax.random.uniform(key, shape) == jax.random.uniform(key, (prod(shape),)).reshape(shape)

bit for bit, and the same holds for ``normal`` and ``bernoulli`` (elementwise transforms of those
bits). XLA:CPU compiles the flat form faster: the rank-N draw builds each element's 64-bit
counter from N iotas. ``python -m bench.compile_random`` (jax 0.10.2, 2-core x86_64): a 3×3 conv
kernel's uniform draw compiled in 0.71 s against 0.16 s flat, a rate-coded ``[T, B, H, W, C]``
batch's Bernoulli in 2.6 s against 0.19 s; at rank 2 the two are within 0.8–2× of each other.
Every weight init, the rate encoder's spikes and the dropout masks are drawn here, so each model
init and each train-step compile pays it once per draw.

Other PRNG implementations (``rbg``, ``unsafe_rbg``) do not promise that identity; for them these
functions are exactly ``jax.random``'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def _flat(key: Array) -> bool:
    """Whether ``key``'s PRNG draws by linear index (threefry), so a flat draw equals the shaped one."""
    return str(jax.random.key_impl(key)) == "threefry2x32"


def _drawn_flat(draw, key: Array, shape: Sequence[int]) -> Array:
    """``draw(key, shape)``, computed as ``draw(key, (prod(shape),)).reshape(shape)`` where the two
    are the same numbers (threefry) and the shape has more than one axis."""
    shape = tuple(shape)
    if not _flat(key) or len(shape) < 2:
        return draw(key, shape)
    return draw(key, (math.prod(shape),)).reshape(shape)


def uniform(key: Array, shape: Sequence[int], dtype=jnp.float32, minval=0.0, maxval=1.0) -> Array:
    """``jax.random.uniform(key, shape, dtype, minval, maxval)``, drawn flat."""
    return _drawn_flat(lambda k, s: jax.random.uniform(k, s, dtype, minval, maxval), key, shape)


def normal(key: Array, shape: Sequence[int], dtype=jnp.float32) -> Array:
    """``jax.random.normal(key, shape, dtype)``, drawn flat."""
    return _drawn_flat(lambda k, s: jax.random.normal(k, s, dtype), key, shape)


def bernoulli(key: Array, p: Array | float, shape: Sequence[int] | None = None) -> Array:
    """``jax.random.bernoulli(key, p, shape)`` (``shape`` defaults to ``p``'s), drawn flat."""
    shape = np.shape(p) if shape is None else tuple(shape)
    if not _flat(key) or len(shape) < 2:
        return jax.random.bernoulli(key, p, shape)
    flat_p = jnp.broadcast_to(p, shape).reshape(-1) if np.ndim(p) else p
    return jax.random.bernoulli(key, flat_p, (math.prod(shape),)).reshape(shape)
