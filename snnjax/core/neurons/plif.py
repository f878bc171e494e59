"""Parametric LIF (SpikingJelly ``ParametricLIFNode``; Fang et al. 2021, "Incorporating learnable
membrane time constant to enhance learning of spiking neural networks", Eq. 4–5).

The membrane time constant is learnt through :math:`1/\\tau = \\mathrm{sigmoid}(w)`, initialised at
``w = -log(init_tau - 1)`` so that :math:`\\tau = ` ``init_tau`` (2.0 by default). One charge,
with ``v_reset = 0``:

.. math::
    h_t = v_{t-1} + \\mathrm{sigmoid}(w)\\,(x_t - v_{t-1}) \\quad (\\text{decay\\_input, SpikingJelly's default}),
    \\qquad h_t = (1 - \\mathrm{sigmoid}(w))\\,v_{t-1} + x_t \\quad (\\text{otherwise}),

i.e. a LIF with leak :math:`k = 1 - \\mathrm{sigmoid}(w) = \\mathrm{sigmoid}(-w)`; fire and reset as in
:func:`snnjax.neurons.lif_step`. With ``decay_input=True`` this is LLC-LIF's released-code form
(:func:`snnjax.neurons.llc_lif` with ``a = w``); without it the two differ (LLC-LIF: ``k = sigmoid(a)``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from snnjax.core import surrogate
from snnjax.core.neurons import dynamics
from snnjax.core.neurons.lif import LIFState, lif, lif_step

Array = jax.Array


def plif_w_init(init_tau: float = 2.0) -> float:
    """SpikingJelly's initial ``w = -log(init_tau - 1)``, so that ``1/sigmoid(w) = init_tau``."""
    if not init_tau > 1.0:
        raise ValueError(f"PLIF needs init_tau > 1 (a time constant of more than one step), got {init_tau}")
    return -math.log(init_tau - 1.0)


def plif_leak(w: ArrayLike) -> Array:
    """The PLIF leak ``k = 1 - sigmoid(w) = sigmoid(-w)`` (``1/τ = sigmoid(w)``)."""
    return jax.nn.sigmoid(-jnp.asarray(w))


def plif_step(
    state: LIFState,
    x_t: Array,
    w: ArrayLike,
    *,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = True,
) -> tuple[LIFState, Array]:
    """One PLIF step: :func:`snnjax.neurons.lif_step` with ``decay = sigmoid(-w)``."""
    dynamics.check_state("plif_step", state, x_t, fields=LIFState._fields, init="lif_init_state")
    return lif_step(state, x_t, decay=plif_leak(w), v_th=v_th, spike_fn=spike_fn, reset=reset,
                    detach_reset=detach_reset, bpta_alpha=bpta_alpha, decay_input=decay_input)


def plif(
    x_seq: Array,
    w: ArrayLike,
    *,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    state: LIFState | None = None,
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = True,
    unroll: int = 1,
    impl: str = "scan",
) -> tuple[Array, LIFState]:
    """PLIF over a sequence: ``x_seq [T, *shape], w -> (s_seq, LIFState)``.

    ``w`` is one scalar per layer (SpikingJelly) or an array broadcasting against ``x_seq[0]``;
    ``plif_w_init(init_tau)`` gives SpikingJelly's initial value. Other arguments as in
    :func:`snnjax.neurons.lif`; ``decay_input`` defaults to SpikingJelly's ``True``.
    """
    dynamics.check_sequence(x_seq)
    dynamics.check_state("plif", state, x_seq, fields=LIFState._fields, init="lif_init_state", sequence=True)
    return lif(x_seq, decay=plif_leak(w), v_th=v_th, spike_fn=spike_fn, state=state, reset=reset,
               detach_reset=detach_reset, bpta_alpha=bpta_alpha, decay_input=decay_input,
               unroll=unroll, impl=impl)
