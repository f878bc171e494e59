"""LLC-BN: batch normalisation scaled by the layer's leak (llc-lif paper §3.3).

.. math::
    \\hat x = \\alpha\\,k_\\tau(a)\\,\\frac{x - \\mathrm{E}[x]}{\\sqrt{\\mathrm{Var}[x] + \\epsilon}}, \\qquad
    y = \\lambda \\hat x + \\beta,

with per-channel statistics over (T, N, H, W), α = 3.2, λ and β initialised to 1 and 0, and running
statistics for inference. At inference the layer is affine, so it folds into the preceding
convolution or dense layer (§3.3):

.. math::
    W' = \\frac{\\lambda\\,\\alpha\\,k_\\tau(a)}{\\sqrt{\\sigma^2_\\mathrm{inf} + \\epsilon}}\\,W, \\qquad
    B' = \\frac{\\lambda\\,\\alpha\\,k_\\tau(a)}{\\sqrt{\\sigma^2_\\mathrm{inf} + \\epsilon}}\\,(B - \\mu_\\mathrm{inf}) + \\beta.

In the text, :math:`k_\\tau(a)` is the leak of the LLC-LIF neurons that follow (pass it as ``leak``).
The released code gives the layer its own parameter ``w`` (init 0) and uses ``sigmoid(w)``: leave
``leak=None``. A plain BatchNorm is the special case ``α·k = 1``.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.layers.time import channels_last

Array = jax.Array


def _stat_dtype(x: Array):
    """Statistics in at least float32 (bfloat16 activations), float64 when the input is."""
    return jnp.float64 if x.dtype == jnp.float64 else jnp.float32


def batch_moments(x: Array) -> tuple[Array, Array]:
    """Per-channel mean and (biased) variance over every axis but the last."""
    axes = tuple(range(x.ndim - 1))
    xs = x.astype(_stat_dtype(x))
    mean = xs.mean(axis=axes)
    var = jnp.square(xs - channels_last(mean, x.ndim)).mean(axis=axes)
    return mean, var


def channel_gain(scale: Array, alpha: float, leak: Array | float, var: Array, eps: float) -> Array:
    """The per-channel gain of an inference-mode LLC-BN: ``λ·α·k_τ(a) / sqrt(σ² + ε)``."""
    return scale * alpha * jnp.asarray(leak).astype(scale.dtype) * jax.lax.rsqrt(var + eps)


def llc_batch_norm(
    x: Array,
    mean: Array,
    var: Array,
    *,
    leak: Array | float,
    scale: Array,
    bias: Array,
    alpha: float = 3.2,
    eps: float = 1e-5,
) -> Array:
    """Applies LLC-BN with given statistics: ``λ·α·k·(x − mean)/sqrt(var + eps) + β`` (channels last)."""
    dtype = _stat_dtype(x)
    mean, var, scale, bias = (jnp.asarray(v).astype(dtype) for v in (mean, var, scale, bias))
    factor = channel_gain(scale, alpha, leak, var, eps)
    n = x.ndim
    y = (x.astype(dtype) - channels_last(mean, n)) * channels_last(factor, n) + channels_last(bias, n)
    return y.astype(x.dtype)


def fold_into_weights(
    kernel: Array,
    bias: Array | None,
    *,
    mean: Array,
    var: Array,
    leak: Array | float,
    scale: Array,
    shift: Array,
    alpha: float = 3.2,
    eps: float = 1e-5,
) -> tuple[Array, Array]:
    """Folds an inference-mode LLC-BN into the conv/dense before it (llc-lif paper §3.3).

    Args:
        kernel: ``[..., C_out]`` (HWIO conv or ``[N_in, N_out]`` dense).
        bias: ``[C_out]`` or None (treated as 0).
        mean, var: running statistics; leak: k_τ(a); scale, shift: λ and β.

    Returns:
        ``(W', B')`` with :math:`W' = \\lambda\\alpha k W/\\sqrt{\\sigma^2+\\epsilon}` and
        :math:`B' = \\lambda\\alpha k (B - \\mu)/\\sqrt{\\sigma^2+\\epsilon} + \\beta`.
    """
    factor = channel_gain(scale, alpha, leak, var, eps)
    b = jnp.zeros_like(mean) if bias is None else bias
    return kernel * channels_last(factor, kernel.ndim), (b - mean) * factor + shift


class LLCBatchNorm(nn.Module):
    """LLC-BN over channels-last input of any rank (merge time into the batch first).

    Attributes:
        alpha: the scale α (3.2 in the paper); ``alpha=1`` with ``leak=1`` is a plain BatchNorm.
        momentum: running statistics ``r ← momentum·r + (1 − momentum)·batch`` (PyTorch's 0.1 is 0.9 here).
        eps: ε.
        own_leak: without a ``leak`` argument, use the layer's own ``sigmoid(w)`` (released code).
    """

    alpha: float = 3.2
    momentum: float = 0.9
    eps: float = 1e-5
    own_leak: bool = True
    dtype: Any = None

    @nn.compact
    def __call__(self, x: Array, *, train: bool, leak: Array | None = None) -> Array:
        c = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        if leak is None:
            leak = jax.nn.sigmoid(self.param("w", nn.initializers.zeros, ())) if self.own_leak else 1.0
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((c,), jnp.float32))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones((c,), jnp.float32))
        if train:
            mean, var = batch_moments(x)
            if not self.is_initializing():
                n = x.size // c
                unbiased = var * (n / max(n - 1, 1))  # PyTorch keeps the unbiased variance
                m = self.momentum
                ra_mean.value = (m * ra_mean.value + (1 - m) * mean.astype(ra_mean.value.dtype))
                ra_var.value = (m * ra_var.value + (1 - m) * unbiased.astype(ra_var.value.dtype))
        else:
            mean, var = ra_mean.value, ra_var.value
        return llc_batch_norm(x, mean, var, leak=leak, scale=scale, bias=bias, alpha=self.alpha, eps=self.eps)
