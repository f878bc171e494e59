"""LLC-BN as an NNX module: batch normalisation scaled by the layer's leak (llc-lif paper §3.3).

.. math::
    y = \\lambda\\,\\alpha\\,k_\\tau(a)\\,\\frac{x - \\mathrm{E}[x]}{\\sqrt{\\mathrm{Var}[x] + \\epsilon}} + \\beta

The same layer as :class:`snnjax.layers.LLCBatchNorm` over the same pure functions
(:func:`snnjax.layers.llc_batch_norm.llc_batch_norm`, ``llc_batch_norm_train``, ``layer_leak``), with
parameters ``scale``, ``bias`` (and its own leak ``w``) and the running statistics ``mean``, ``var``
as ``nnx.BatchStat``, updated in place in training as ``nnx.BatchNorm`` does (Linen's ``batch_stats``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import DTypeLike

from snnjax.nn.layers.llc_batch_norm import layer_leak, llc_batch_norm, llc_batch_norm_train

Array = jax.Array


class LLCBatchNorm(nnx.Module):
    """LLC-BN over channels-last input ``[..., features]`` (merge time into the batch first).

    Args:
        features: channels.
        alpha: α (3.2 in the paper); ``alpha=1`` without a leak is a plain BatchNorm.
        momentum: running statistics ``r ← momentum·r + (1 − momentum)·batch``.
        eps: ε.
        own_leak: the layer has its own leak parameter ``w`` and uses ``sigmoid(w)`` when called
            without ``leak`` (released code); False: ``leak`` is passed in (text) or 1.
        per_step: the input is ``[S, ...]``, one normalisation and running update per leading index.
        repeats: count each call's statistics this many times in the running statistics.
        stat_dtype: the running statistics' dtype (float64 for a float64 model).
    """

    def __init__(self, features: int, *, alpha: float = 3.2, momentum: float = 0.9, eps: float = 1e-5,
                 own_leak: bool = True, per_step: bool = False, repeats: int = 1,
                 stat_dtype: DTypeLike = jnp.float32):
        self.scale = nnx.Param(jnp.ones((features,), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((features,), jnp.float32))
        self.w = nnx.Param(jnp.zeros((), jnp.float32)) if own_leak else None
        self.mean = nnx.BatchStat(jnp.zeros((features,), stat_dtype))
        self.var = nnx.BatchStat(jnp.ones((features,), stat_dtype))
        self.alpha, self.momentum, self.eps = alpha, momentum, eps
        self.per_step, self.repeats = per_step, repeats

    def __call__(self, x: Array, *, train: bool, leak: Array | None = None, repeats: int | None = None) -> Array:
        """Normalises ``x``; in training also updates the running statistics (in place), each call's
        statistics counted ``repeats`` times (default: the layer's ``repeats``)."""
        repeats = self.repeats if repeats is None else repeats
        leak = layer_leak(leak, self.w[...] if self.w is not None else None)
        kwargs = dict(leak=leak, scale=self.scale[...], bias=self.bias[...], alpha=self.alpha, eps=self.eps)
        if not train:
            return llc_batch_norm(x, self.mean[...], self.var[...], **kwargs)
        y, self.mean[...], self.var[...] = llc_batch_norm_train(
            x, self.mean[...], self.var[...], per_step=self.per_step, momentum=self.momentum, repeats=repeats, **kwargs)
        return y
