"""Time-consistent dropout: one mask for all T steps (SpikingJelly's multi-step ``Dropout``).

A neuron dropped at step 0 stays dropped for the whole sample, so dropout removes neurons rather
than individual spikes (the bpsa paper's "neuron dropout", Lee et al. 2020). It is Flax's
``nn.Dropout`` with the mask broadcast over the leading time axis.

:class:`Dropout` is ``nn.Dropout`` with its mask drawn flat (:mod:`snnjax.core.flat_random`): the same
key (it keeps the class name, so its auto-name and ``make_rng`` path are ``nn.Dropout``'s) and the
same mask bit for bit, in a train step that compiles faster.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from snnjax.core import flat_random

Array = jax.Array


def dropout(x: Array, rate: float, key: Array, broadcast_dims: Sequence[int] = ()) -> Array:
    """Inverted dropout: each unit kept with probability ``1 − rate`` and scaled by ``1 / (1 − rate)``,
    one Bernoulli mask (:func:`snnjax.core.flat_random.bernoulli`) shared along ``broadcast_dims``.
    ``rate == 1`` gives zeros (no division by a zero keep probability, whose gradient would be NaN)."""
    if rate == 1.0:
        return jnp.zeros_like(x)
    keep = 1.0 - rate
    mask_shape = [1 if d in broadcast_dims else n for d, n in enumerate(x.shape)]
    mask = jnp.broadcast_to(flat_random.bernoulli(key, keep, mask_shape), x.shape)
    return lax.select(mask, x / keep, jnp.zeros_like(x))


class Dropout(nn.Dropout):
    """``flax.linen.Dropout``, its Bernoulli mask drawn by :func:`snnjax.core.flat_random.bernoulli`.

    Kept units are scaled by ``1 / (1 - rate)``; ``broadcast_dims`` share one mask along those axes.
    """

    @nn.compact
    def __call__(self, inputs: Array, deterministic: bool | None = None, rng: Array | None = None) -> Array:
        deterministic = nn.merge_param("deterministic", self.deterministic, deterministic)
        if self.rate == 0.0 or deterministic:
            return inputs
        if self.rate == 1.0:  # no key drawn, as nn.Dropout
            return jnp.zeros_like(inputs)
        if rng is None:
            rng = self.make_rng(self.rng_collection)
        return dropout(inputs, self.rate, rng, self.broadcast_dims)


class TimeConsistentDropout(nn.Module):
    """Dropout on ``[T, B, ...]`` with a mask drawn once per sample, shared across time.

    ``nn.Dropout(rate, broadcast_dims=(0,))``: kept units are scaled by ``1/(1 - rate)``. Uses the
    ``dropout`` RNG stream; identity when not training or when ``rate == 0``. It acts on whatever it
    is given: spikes after a neuron, or the analog current before one (the BP-STA released code).
    """

    rate: float

    @nn.compact
    def __call__(self, x: Array, *, train: bool) -> Array:
        return Dropout(self.rate, broadcast_dims=(0,), deterministic=not train)(x)
