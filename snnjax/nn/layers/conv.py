"""2-D convolution (NHWC, HWIO) whose backward pass is written as two forward convolutions in the
canonical layout, so XLA's CPU backend runs them with its fast convolution kernels everywhere.

For a stride-``s`` convolution with padding ``(l, h)`` per spatial axis (1-D notation, ``K`` taps,
``H`` inputs, ``P`` outputs)

.. math::
    y_{b,p,o} = \\sum_{i,c} x_{b,\\,s p + i - l,\\,c}\\, w_{i,c,o},

the gradients are again convolutions:

.. math::
    \\frac{\\partial L}{\\partial x_{b,h,c}} = \\sum_{i,o} \\tilde g_{b,\\,h + l - i,\\,o}\\, w_{i,c,o}
    \\qquad
    \\frac{\\partial L}{\\partial w_{i,c,o}} = \\sum_{b,p} x_{b,\\,s p + i - l,\\,c}\\, g_{b,p,o},

where :math:`\\tilde g` is ``g`` dilated by ``s`` (``g`` at multiples of ``s``, zeros between). The
first is a stride-1 convolution of the dilated ``g`` with the kernel flipped in space and transposed
to ``[K, K, O, C]``; the second a convolution of ``x`` seen as ``[C, H, W, B]`` (channels as batch,
examples as features) with ``g`` seen as ``[P, P, B, O]`` as the kernel, dilated by ``s``.

Why: autodiff of ``lax.conv_general_dilated`` emits these gradient convolutions with permuted
dimension labels (``f01b_i01o->01bf`` for the kernel). A jitted step alone gets them rewritten to the
canonical ``b01f_01io->b01f`` form, but inside a ``lax.while_loop``/``scan`` body (the device loop,
:mod:`snnjax.tool.device_loop`) XLA:CPU (jax 0.10) leaves them as they are and falls back to a naive loop
emitter: a 3x3, 128-channel conv backward took 1.5 s per iteration there against 61 ms alone
(JAX issue #12868). With the explicit transposes here the loop body runs at the speed of the step
alone. The values equal autodiff's to float rounding (bitwise in the tested cases).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from snnjax.nn.layers import auto_impl

Array = jax.Array

CONV_IMPLS = ("auto", "xla", "canonical")
_DN = ("NHWC", "HWIO", "NHWC")


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """``(low, high)`` padding of ``"SAME"``: ``ceil(size / stride)`` outputs, the extra pad high
    (XLA's and TensorFlow's convention)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _padding(x_shape: Sequence[int], k_shape: Sequence[int], strides: tuple[int, int],
             padding: str | Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    if isinstance(padding, str):
        if padding == "SAME":
            return tuple(same_padding(x_shape[1 + a], k_shape[a], strides[a]) for a in range(2))
        if padding == "VALID":
            return ((0, 0), (0, 0))
        raise ValueError(f"padding must be 'SAME', 'VALID' or explicit pairs, got {padding!r}")
    return tuple((int(lo), int(hi)) for lo, hi in padding)


def conv2d(x: Array, kernel: Array, strides: tuple[int, int] = (1, 1),
           padding: str | Sequence[tuple[int, int]] = "SAME") -> Array:
    """``[B, H, W, C] * [Kh, Kw, C, O] -> [B, P, Q, O]``, equal to ``lax.conv_general_dilated`` with
    NHWC/HWIO/NHWC, with the canonical-layout backward pass described in the module docstring."""
    pads = _padding(x.shape, kernel.shape, tuple(strides), padding)
    return _conv2d(x, kernel, tuple(int(s) for s in strides), pads)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv2d(x: Array, kernel: Array, strides: tuple[int, int], pads: tuple[tuple[int, int], ...]) -> Array:
    return lax.conv_general_dilated(x, kernel, strides, pads, dimension_numbers=_DN)


def _conv2d_fwd(x, kernel, strides, pads):
    return _conv2d(x, kernel, strides, pads), (x, kernel)


def _conv2d_bwd(strides, pads, residuals, g):
    x, kernel = residuals
    size_in, size_k, size_out = x.shape[1:3], kernel.shape[:2], g.shape[1:3]
    # dL/dx: the s-dilated g, convolved (stride 1) with the flipped kernel as [K, K, O, C].
    flipped = jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2)
    pads_x = []
    for a in range(2):
        dilated = strides[a] * (size_out[a] - 1) + 1
        low = size_k[a] - 1 - pads[a][0]
        pads_x.append((low, size_in[a] + size_k[a] - 1 - low - dilated))
    dx = lax.conv_general_dilated(g, flipped.astype(g.dtype), (1, 1), pads_x, lhs_dilation=strides,
                                  dimension_numbers=_DN)
    # dL/dw: x as [C, H, W, B] (channels as batch) convolved with g as the kernel [P, Q, B, O].
    pads_w = [(pads[a][0], size_k[a] + strides[a] * (size_out[a] - 1) - size_in[a] - pads[a][0]) for a in range(2)]
    dw = lax.conv_general_dilated(x.transpose(3, 1, 2, 0).astype(g.dtype), g.transpose(1, 2, 0, 3), (1, 1), pads_w,
                                  rhs_dilation=strides, dimension_numbers=_DN).transpose(1, 2, 0, 3)
    return dx.astype(x.dtype), dw.astype(kernel.dtype)


_conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


def resolve_impl(impl: str) -> str:
    """``"auto"`` → ``"canonical"`` on CPU (see the module docstring), ``"xla"`` on accelerators."""
    return auto_impl.resolve(impl, CONV_IMPLS, cpu="canonical", accelerator="xla", name="model.conv_impl")
