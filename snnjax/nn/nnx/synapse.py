"""Synaptic layers as NNX modules, in layer-wise form: one matmul/conv over the merged ``T·B`` batch.

.. math::  x_t = W s_t + b \\quad\\text{for every step } t

The same layers as :mod:`snnjax.layers.synapse` (parameter names ``kernel`` and ``bias``, their
shapes, PyTorch's default init :math:`U(-1/\\sqrt{\\text{fan\\_in}}, 1/\\sqrt{\\text{fan\\_in}})`, and the
same pure functions :func:`snnjax.layers.synapse.dense`, ``conv_same`` and ``over_time``), without the
``synops`` sowing of the Linen layers: NNX has no collections to sow into without turning them into
module state, so the energy estimate stays with the Linen models.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import DTypeLike

from snnjax.nn.layers.synapse import conv_fan_in, conv_same, dense, over_time, torch_uniform

Array = jax.Array


class SeqDense(nnx.Module):
    """Dense layer over time: ``[T, B, in_features] -> [T, B, out_features]``.

    With ``time_major=False`` the input is one step ``[B, in_features]`` (also what :meth:`step` takes).

    Args:
        in_features, out_features: widths.
        use_bias: add a bias.
        time_major: the input carries a leading time axis to merge into the batch.
        dtype: the product's dtype (default: the input's).
        param_dtype: the parameters' dtype (float32, as the Linen layer).
        rngs: ``nnx.Rngs`` with a ``params`` stream.
    """

    def __init__(self, in_features: int, out_features: int, *, use_bias: bool = True, time_major: bool = True,
                 dtype: DTypeLike | None = None, param_dtype: DTypeLike = jnp.float32, rngs: nnx.Rngs):
        init = torch_uniform(in_features)
        self.kernel = nnx.Param(init(rngs.params(), (in_features, out_features), param_dtype))
        self.bias = nnx.Param(init(rngs.params(), (out_features,), param_dtype)) if use_bias else None
        self.time_major = time_major
        self.dtype = dtype

    def step(self, x_t: Array) -> Array:
        """``[B, in_features] -> [B, out_features]``: the product of one step."""
        return dense(x_t, self.kernel[...], self.bias[...] if self.bias is not None else None, self.dtype)

    def __call__(self, x: Array) -> Array:
        return over_time(self.step, x, self.time_major)


class SeqConv(nnx.Module):
    """2-D convolution over time, NHWC, "same" padding: ``[T, B, H, W, C] -> [T, B, H', W', F]``.

    With ``time_major=False`` the input is ``[B, H, W, C]`` (a static first layer under direct
    coding). ``impl``: ``"xla"``, ``"canonical"`` or ``"auto"``, as :class:`snnjax.layers.SeqConv`.
    """

    def __init__(self, in_features: int, out_features: int, kernel_size: int = 3, *, strides: int = 1,
                 use_bias: bool = False, time_major: bool = True, dtype: DTypeLike | None = None,
                 param_dtype: DTypeLike = jnp.float32, impl: str = "auto", rngs: nnx.Rngs):
        fan_in = conv_fan_in(in_features, kernel_size)
        init = torch_uniform(fan_in)
        self.kernel = nnx.Param(init(rngs.params(), (kernel_size, kernel_size, in_features, out_features), param_dtype))
        self.bias = nnx.Param(init(rngs.params(), (out_features,), param_dtype)) if use_bias else None
        self.strides = strides
        self.time_major = time_major
        self.dtype = dtype
        self.impl = impl

    def _conv(self, x: Array) -> Array:
        bias = self.bias[...] if self.bias is not None else None
        return conv_same(x, self.kernel[...], bias, self.strides, self.impl, self.dtype)

    def __call__(self, x: Array) -> Array:
        return over_time(self._conv, x, self.time_major)
