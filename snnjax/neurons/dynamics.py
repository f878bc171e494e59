"""The pieces every neuron is made of: charge, fire, reset, and the BPTA temporal residual.

One step of a leaky neuron (llc-lif paper §3.1; bpsa-bpta paper, Eq. 1–3):

.. math::
    h_t = k\\,v_{t-1} + x_t                       \\quad\\text{(charge, explicit iterative form)}
    s_t = H(h_t - \\vartheta_t)                      \\quad\\text{(fire)}
    v_t = h_t\\,(1 - s_t)                           \\quad\\text{(hard reset to 0; soft: } h_t - s_t\\vartheta_t)

so that :math:`u[t+1] = k\\,u[t]\\,(1 - o[t]) + I[t+1]` with :math:`u = h` the membrane before reset.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array
ArrayLike = jax.typing.ArrayLike

RESET_MODES = ("hard", "soft")


def check_float(x: ArrayLike, name: str = "x") -> None:
    """Neurons compute in floating point: an integer or boolean input or state is an error.

    The membrane takes the input's dtype (``docs/design.md``), so an integer input would cast a
    decay of 0.9 to 0 and a threshold of 2.5 to 2 and give wrong spikes silently. Every neuron
    calls this through :func:`check_sequence` (multi-step) and :func:`charge` (single step), so a
    new neuron built from these helpers gets the check too.

    Raises:
        TypeError: ``x``'s dtype is not a floating-point type.
    """
    dtype = jnp.result_type(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"{name} has dtype {dtype}; spiking neurons compute in floating point (an integer membrane "
            f"would truncate the decay and the threshold): pass {name}.astype(jnp.float32)"
        )


def as_dtype(value: ArrayLike, like: Array) -> Array:
    """``value`` cast to ``like``'s dtype and, unless scalar, broadcast to its shape.

    Explicit, so the neurons also run under ``jax_numpy_dtype_promotion="strict"`` and
    ``jax_numpy_rank_promotion="raise"``; gradients flow through the cast and the broadcast.
    ``like`` must be floating point (:func:`check_float`): casting 0.9 to an integer gives 0.
    """
    check_float(like, "the neuron's membrane")
    value = jnp.asarray(value).astype(like.dtype)
    return value if value.ndim == 0 else jnp.broadcast_to(value, like.shape)


def charge(v: Array, x: Array, decay: ArrayLike, decay_input: bool = False) -> Array:
    """Integrates input ``x`` into the post-reset membrane ``v``.

    .. math::  h = k\\,v + x \\quad\\text{or, with decay_input,}\\quad h = k\\,v + (1 - k)\\,x

    The second form is SpikingJelly's ``decay_input=True`` LIF, ``h = v + (x - v)/τ``, with
    ``k = 1 - 1/τ``.
    """
    check_float(v, "the membrane state")
    check_float(x, "the input x_t")
    k = as_dtype(decay, v)
    x = x.astype(v.dtype)
    if decay_input:
        return k * v + (1 - k) * x
    return k * v + x


def reset_membrane(h: Array, s: Array, v_th: ArrayLike, mode: str, detach: bool) -> Array:
    """Resets the membrane ``h`` where ``s`` fired.

    ``mode="hard"``: :math:`v = h (1 - s)` (to 0); ``mode="soft"``: :math:`v = h - s\\,\\vartheta`.
    With ``detach=True`` the reset uses ``stop_gradient(s)`` (SpikingJelly's ``detach_reset``).
    """
    if detach:
        s = jax.lax.stop_gradient(s)
    if mode == "hard":
        return h * (1 - s)
    if mode == "soft":
        return h - s * as_dtype(v_th, h)
    raise ValueError(f"reset must be one of {RESET_MODES}, got {mode!r}")


def temporal_residual(v: Array, s: Array, bpta_alpha: ArrayLike) -> Array:
    """BPTA (bpsa-bpta paper, Eq. 10): a gradient-only path from ``s[t]`` into the next membrane.

    .. math::  v_t \\leftarrow v_t + \\alpha\\,(s_t - \\mathrm{sg}(s_t))

    The added term is exactly 0 in the forward pass. Through the next charge
    :math:`h_{t+1} = \\lambda v_t + x_{t+1}` it adds :math:`\\lambda\\alpha` to
    :math:`\\partial h_{t+1}/\\partial s_t`, hence :math:`\\lambda\\alpha\\,g'(u[t+1])` to
    :math:`\\partial o[t+1]/\\partial o[t]`, past the reset. Added after the reset, as in the
    authors' code (``u += 0.2 (s - s.detach())`` before the decay); the text uses α = 0.8, the code 0.2.
    """
    if isinstance(bpta_alpha, (int, float)) and bpta_alpha == 0:
        return v
    return v + as_dtype(bpta_alpha, v) * (s - jax.lax.stop_gradient(s))


def check_reset(reset: str) -> None:
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")


def check_sequence(x_seq: Array, name: str = "x_seq") -> None:
    """``x_seq`` is a floating-point sequence ``[T, ...]`` with ``T >= 1``."""
    check_float(x_seq, name)
    if jnp.ndim(x_seq) < 1:
        raise ValueError(f"{name} must have a leading time axis [T, ...]; got a scalar")
    if x_seq.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one time step; got shape {x_seq.shape}")
