"""Time-consistent dropout: one mask for all T steps (SpikingJelly's multi-step ``Dropout``).

A neuron dropped at step 0 stays dropped for the whole sample, so dropout removes neurons rather
than individual spikes (the bpsa paper's "neuron dropout", Lee et al. 2020). It is Flax's
``nn.Dropout`` with the mask broadcast over the leading time axis.
"""

from __future__ import annotations

import flax.linen as nn
import jax

Array = jax.Array


class TimeConsistentDropout(nn.Module):
    """Dropout on ``[T, B, ...]`` with a mask drawn once per sample, shared across time.

    ``nn.Dropout(rate, broadcast_dims=(0,))``: kept units are scaled by ``1/(1 - rate)``. Uses the
    ``dropout`` RNG stream; identity when not training or when ``rate == 0``. It acts on whatever it
    is given: spikes after a neuron, or the analog current before one (the BP-STA released code).
    """

    rate: float

    @nn.compact
    def __call__(self, x: Array, *, train: bool) -> Array:
        return nn.Dropout(self.rate, broadcast_dims=(0,), deterministic=not train)(x)
