"""Integrate-and-fire neurons (SpikingJelly ``IFNode``): a LIF without leak.

One step, with :math:`v` the membrane after reset:

.. math::  h_t = v_{t-1} + x_t, \\qquad s_t = H(h_t - v_\\mathrm{th}), \\qquad
           v_t = h_t (1 - s_t) \\;(\\text{soft: } h_t - s_t v_\\mathrm{th}),

which is SpikingJelly's ``IFNode(v_threshold, v_reset=0.)`` (``v_reset=None`` is ``reset="soft"``).
"""

from __future__ import annotations

import jax
from jax.typing import ArrayLike

from snnjax.core import surrogate
from snnjax.core.neurons import dynamics
from snnjax.core.neurons.lif import LIFState, lif, lif_step

Array = jax.Array


def if_step(
    state: LIFState,
    x_t: Array,
    *,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
) -> tuple[LIFState, Array]:
    """One IF step ``(state, x_t) -> (state, s_t)``: :func:`snnjax.neurons.lif_step` with ``decay = 1``."""
    dynamics.check_state("if_step", state, x_t, fields=LIFState._fields, init="lif_init_state")
    return lif_step(state, x_t, decay=1.0, v_th=v_th, spike_fn=spike_fn, reset=reset,
                    detach_reset=detach_reset, bpta_alpha=bpta_alpha)


def if_neuron(
    x_seq: Array,
    *,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    state: LIFState | None = None,
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    unroll: int = 1,
    impl: str = "scan",
) -> tuple[Array, LIFState]:
    """IF neurons over a sequence: ``x_seq [T, *shape] -> (s_seq [T, *shape], LIFState)``.

    :func:`snnjax.neurons.lif` with ``decay = 1`` (its ``impl="pallas"`` kernel included).
    """
    dynamics.check_sequence(x_seq)
    dynamics.check_state("if_neuron", state, x_seq, fields=LIFState._fields, init="lif_init_state", sequence=True)
    return lif(x_seq, decay=1.0, v_th=v_th, spike_fn=spike_fn, state=state, reset=reset,
               detach_reset=detach_reset, bpta_alpha=bpta_alpha, unroll=unroll, impl=impl)
