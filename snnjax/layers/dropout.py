"""Time-consistent dropout: one mask for all T steps (SpikingJelly's multi-step ``Dropout``).

A neuron dropped at step 0 stays dropped for the whole sample, so dropout removes neurons rather
than individual spikes (the bpsa paper's "neuron dropout", Lee et al. 2020).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


class TimeConsistentDropout(nn.Module):
    """Dropout on ``[T, B, ...]`` with a mask drawn once per sample, shared across time.

    Kept units are scaled by ``1/(1 - rate)``. Uses the ``dropout`` RNG stream; identity when not
    training or when ``rate == 0``.
    """

    rate: float

    @nn.compact
    def __call__(self, x: Array, *, train: bool) -> Array:
        if not train or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = jax.random.bernoulli(self.make_rng("dropout"), keep, (1,) + x.shape[1:])
        mask = jnp.broadcast_to(mask, x.shape)  # the same units at every step
        return jnp.where(mask, x / jnp.asarray(keep, x.dtype), jnp.zeros_like(x))
