"""Synaptic layers in layer-wise (multi-step) form: one conv/matmul over the merged ``T·B`` batch.

A spiking layer's input current is :math:`x_t = W s_t + b` for every step, so the T products are one
product over ``[T·B, ...]`` (SpikingJelly's ``SeqToANNContainer``), and T steps cost one big matmul
instead of T small ones. Weights use PyTorch's default initialisation, as the papers' code does:
:math:`U(-1/\\sqrt{\\text{fan\\_in}}, 1/\\sqrt{\\text{fan\\_in}})` for kernel and bias.

Each layer sows into the ``synops`` collection what the energy estimate needs: its MACs per example
and time step, the mean rate of its input (meaningful when the input is spikes) and whether its
input is analog (counted as MACs rather than accumulates).
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.core import flat_random
from snnjax.nn.layers import conv as conv_lib
from snnjax.core.time import channels_last, merge_time, split_time

Array = jax.Array


def torch_uniform(fan_in: int):
    """PyTorch's default ``Linear``/``Conv`` init: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (the numbers
    of ``jax.random.uniform``, drawn flat: :mod:`snnjax.core.flat_random`)."""
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return flat_random.uniform(key, shape, dtype, -bound, bound)

    return init


def sow_synops(module: nn.Module, macs: int, input_rate: Array, analog_input: bool, steps: int) -> None:
    """Sows ``synops/cost`` for ``module``: MACs per example and step, its input's mean rate, whether
    the input is analog, and the number of time steps. Nothing in ``model.init`` (it would come
    back beside the parameters; :func:`snnjax.layers.spiking.records`)."""
    if module.is_initializing():
        return
    module.sow(
        "synops",
        "cost",
        {
            "macs": jnp.asarray(float(macs), jnp.float32),
            "input_rate": jnp.asarray(input_rate, jnp.float32),
            "analog_input": jnp.asarray(analog_input),
            "steps": jnp.asarray(float(steps), jnp.float32),
        },
    )


def _sow_synops(module: nn.Module, x: Array, macs: int, analog_input: bool) -> None:
    sow_synops(module, macs, jnp.mean(x.astype(jnp.float32)), analog_input, x.shape[0] if x.ndim > 0 else 1)


class SeqDense(nn.Module):
    """Dense layer over time: ``[T, B, N_in] -> [T, B, N_out]`` (or ``[B, N_in]`` with ``time_major=False``).

    Attributes:
        features: output width.
        use_bias: add a bias.
        analog_input: the input is analog (first layer, analog readout input), for the energy estimate.
        time_major: the input carries a leading time axis to merge.
    """

    features: int
    use_bias: bool = True
    analog_input: bool = False
    time_major: bool = True
    dtype: Any = None

    @nn.compact
    def __call__(self, x: Array) -> Array:
        fan_in = x.shape[-1]
        kernel = self.param("kernel", torch_uniform(fan_in), (fan_in, self.features))
        flat = merge_time(x) if self.time_major else x
        dtype = self.dtype or x.dtype
        y = flat.astype(dtype) @ kernel.astype(dtype)
        if self.use_bias:
            bias = self.param("bias", torch_uniform(fan_in), (self.features,))
            y = y + channels_last(bias.astype(dtype), y.ndim)
        _sow_synops(self, x if self.time_major else x[None], fan_in * self.features, self.analog_input)
        return split_time(y, x.shape[0]) if self.time_major else y


class SeqConv(nn.Module):
    """2-D convolution over time, NHWC, "same" padding: ``[T, B, H, W, C] -> [T, B, H', W', F]``.

    With ``time_major=False`` the input is ``[B, H, W, C]`` (the static first layer under direct
    coding, computed once and reused at every step). ``impl``: ``"xla"`` (``lax.conv_general_dilated``
    and its autodiff), ``"canonical"`` (:func:`snnjax.layers.conv.conv2d`: the same values, a backward
    pass XLA:CPU runs fast inside loops) or ``"auto"`` (canonical on CPU, xla elsewhere).
    """

    features: int
    kernel_size: int = 3
    strides: int = 1
    use_bias: bool = False
    analog_input: bool = False
    time_major: bool = True
    dtype: Any = None
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c_in = x.shape[-1]
        k = self.kernel_size
        fan_in = c_in * k * k
        kernel = self.param("kernel", torch_uniform(fan_in), (k, k, c_in, self.features))
        flat = merge_time(x) if self.time_major else x
        dtype = self.dtype or x.dtype
        strides = (self.strides, self.strides)
        if conv_lib.resolve_impl(self.impl) == "canonical":
            y = conv_lib.conv2d(flat.astype(dtype), kernel.astype(dtype), strides, "SAME")
        else:
            y = jax.lax.conv_general_dilated(flat.astype(dtype), kernel.astype(dtype), window_strides=strides,
                                             padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        if self.use_bias:
            bias = self.param("bias", torch_uniform(fan_in), (self.features,))
            y = y + channels_last(bias.astype(dtype), y.ndim)
        macs = y.shape[1] * y.shape[2] * fan_in * self.features
        _sow_synops(self, x if self.time_major else x[None], macs, self.analog_input)
        return split_time(y, x.shape[0]) if self.time_major else y
