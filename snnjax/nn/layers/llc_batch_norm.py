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

Statistics (``per_step``): the text pools them over (T, N, H, W) (``per_step=False``, one update of
the running statistics per batch). The released code of both the llc-lif and the BP-STA papers runs
its BatchNorm once per time step, so in training each step is normalised with its own statistics
over (N, H, W) and the running statistics are updated once per step, in order (``per_step=True``,
the input's leading axis is time).

In the text, :math:`k_\\tau(a)` is the leak of the LLC-LIF neurons that follow (pass it as ``leak``).
The released code gives the layer its own parameter ``w`` (init 0) and uses ``sigmoid(w)``: leave
``leak=None``. A plain BatchNorm is the special case ``α·k = 1``.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.core.precision import at_least_float32
from snnjax.core.time import channels_last

Array = jax.Array


def batch_moments(x: Array) -> tuple[Array, Array]:
    """Per-channel mean and (biased) variance over every axis but the last."""
    axes = tuple(range(x.ndim - 1))
    xs = x.astype(at_least_float32(x))
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
    dtype = at_least_float32(x)
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


def running_update(running: Array, stats: Array, momentum: float, repeats: int = 1) -> Array:
    """Running statistic after one update per row of ``stats [S, C]``, in order, each ``repeats`` times.

    ``r ← m·r + (1 − m)·b_s`` applied ``repeats`` times for every ``s``; in closed form
    :math:`r_S = m^{nS} r_0 + (1 - m^n) \\sum_s m^{n(S-1-s)} b_s` with ``n = repeats``.
    """
    m_n = momentum**repeats
    steps = stats.shape[0]
    weights = (1 - m_n) * m_n ** jnp.arange(steps - 1, -1, -1, dtype=stats.dtype)
    return m_n**steps * running + (weights[:, None] * stats).sum(axis=0)


def layer_leak(leak: Array | float | None, own: Array | None) -> Array | float:
    """The leak that scales the layer: ``leak`` when given (text: the neurons' k_τ(a)), else
    ``sigmoid(w)`` of the layer's own parameter ``w`` (released code), else 1 (a plain BatchNorm)."""
    if leak is not None:
        return leak
    return jax.nn.sigmoid(own) if own is not None else 1.0


def llc_batch_norm_train(
    x: Array,
    running_mean: Array,
    running_var: Array,
    *,
    per_step: bool,
    momentum: float,
    repeats: int,
    leak: Array | float,
    scale: Array,
    bias: Array,
    alpha: float = 3.2,
    eps: float = 1e-5,
) -> tuple[Array, Array, Array]:
    """LLC-BN in training: normalises ``x`` with its batch statistics and returns ``(y, mean', var')``.

    ``per_step=False``: one set of per-channel statistics over every axis but the last, one running
    update. ``per_step=True``: ``x`` is ``[S, ...]``, each ``x[s]`` normalised with its own statistics,
    the running statistics updated once per ``s`` in order. The running variance is the unbiased
    ``var·n/(n − 1)`` (PyTorch's), each update counted ``repeats`` times (:func:`running_update`).
    """
    c = x.shape[-1]
    if per_step:
        mean, var = jax.vmap(batch_moments)(x)  # [S, C] each
        n = x[0].size // c
    else:
        mean, var = batch_moments(x)
        n = x.size // c
        mean, var = mean[None], var[None]
    unbiased = var * (n / max(n - 1, 1))
    dt = running_mean.dtype
    new_mean = running_update(running_mean, mean.astype(dt), momentum, repeats)
    new_var = running_update(running_var, unbiased.astype(dt), momentum, repeats)
    norm = lambda xs, m, v: llc_batch_norm(xs, m, v, leak=leak, scale=scale, bias=bias, alpha=alpha, eps=eps)
    y = jax.vmap(norm)(x, mean, var) if per_step else norm(x, mean[0], var[0])
    return y, new_mean, new_var


class LLCBatchNorm(nn.Module):
    """LLC-BN over channels-last input of any rank (merge time into the batch first).

    Attributes:
        alpha: the scale α (3.2 in the paper); ``alpha=1`` with ``leak=1`` is a plain BatchNorm.
        momentum: running statistics ``r ← momentum·r + (1 − momentum)·batch`` (PyTorch's 0.1 is 0.9 here).
        eps: ε.
        own_leak: without a ``leak`` argument, use the layer's own ``sigmoid(w)`` (released code).
        per_step: the input is ``[S, ...]``, one call per leading index: in training each is
            normalised with its own statistics and updates the running statistics (released code).
        repeats: count each call's statistics this many times in the running statistics (a layer
            computed once that stands for one recomputed at every step: the BP-STA code's first conv).
    """

    alpha: float = 3.2
    momentum: float = 0.9
    eps: float = 1e-5
    own_leak: bool = True
    per_step: bool = False
    repeats: int = 1
    dtype: Any = None

    @nn.compact
    def __call__(self, x: Array, *, train: bool, leak: Array | None = None) -> Array:
        c = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        own = self.param("w", nn.initializers.zeros, ()) if leak is None and self.own_leak else None
        leak = layer_leak(leak, own)
        stat_dtype = at_least_float32(x)  # float64 models keep float64 running statistics
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((c,), stat_dtype))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones((c,), stat_dtype))
        if not train:
            return llc_batch_norm(
                x, ra_mean.value, ra_var.value, leak=leak, scale=scale, bias=bias, alpha=self.alpha, eps=self.eps
            )
        y, mean, var = llc_batch_norm_train(
            x, ra_mean.value, ra_var.value, per_step=self.per_step, momentum=self.momentum, repeats=self.repeats,
            leak=leak, scale=scale, bias=bias, alpha=self.alpha, eps=self.eps,
        )
        if not self.is_initializing():
            ra_mean.value, ra_var.value = mean, var
        return y
