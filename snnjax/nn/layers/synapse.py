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
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

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


def conv_fan_in(in_features: int, kernel_size: int) -> int:
    """A ``k×k`` convolution's fan-in ``C_in·k²`` (PyTorch's, for :func:`torch_uniform`)."""
    return in_features * kernel_size * kernel_size


def dense(x: Array, kernel: Array, bias: Array | None, dtype: DTypeLike | None = None) -> Array:
    """``x W + b`` over the last axis, computed in ``dtype`` (default: ``x``'s)."""
    dtype = dtype or x.dtype
    y = x.astype(dtype) @ kernel.astype(dtype)
    return y if bias is None else y + channels_last(bias.astype(dtype), y.ndim)


def conv_same(x: Array, kernel: Array, bias: Array | None, strides: int, impl: str,
              dtype: DTypeLike | None = None) -> Array:
    """NHWC 2-D convolution with "same" padding and an HWIO kernel, plus ``b``, computed in ``dtype``.

    ``impl``: ``"xla"`` (``lax.conv_general_dilated``), ``"canonical"`` (:func:`snnjax.layers.conv.conv2d`,
    the same values) or ``"auto"`` (:func:`snnjax.layers.conv.resolve_impl`).
    """
    dtype = dtype or x.dtype
    x, kernel, window = x.astype(dtype), kernel.astype(dtype), (strides, strides)
    if conv_lib.resolve_impl(impl) == "canonical":
        y = conv_lib.conv2d(x, kernel, window, "SAME")
    else:
        y = jax.lax.conv_general_dilated(x, kernel, window_strides=window, padding="SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y if bias is None else y + channels_last(bias.astype(dtype), y.ndim)


def over_time(layer: Callable[[Array], Array], x: Array, time_major: bool = True) -> Array:
    """``layer`` applied to ``x [T, B, ...]`` as one call on the merged ``[T·B, ...]`` (``time_major``),
    or to ``x`` as it is."""
    return split_time(layer(merge_time(x)), x.shape[0]) if time_major else layer(x)


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
        bias = self.param("bias", torch_uniform(fan_in), (self.features,)) if self.use_bias else None
        y = over_time(lambda flat: dense(flat, kernel, bias, self.dtype), x, self.time_major)
        _sow_synops(self, x if self.time_major else x[None], fan_in * self.features, self.analog_input)
        return y


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
        c_in, k = x.shape[-1], self.kernel_size
        fan_in = conv_fan_in(c_in, k)
        kernel = self.param("kernel", torch_uniform(fan_in), (k, k, c_in, self.features))
        bias = self.param("bias", torch_uniform(fan_in), (self.features,)) if self.use_bias else None
        conv = lambda flat: conv_same(flat, kernel, bias, self.strides, self.impl, self.dtype)
        y = over_time(conv, x, self.time_major)
        out_hw = y.shape[-3] * y.shape[-2]
        _sow_synops(self, x if self.time_major else x[None], out_hw * fan_in * self.features, self.analog_input)
        return y
