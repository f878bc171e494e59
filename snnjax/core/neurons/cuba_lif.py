"""Current-based synapse LIF (snnTorch ``Synaptic``, Spyx ``CuBaLIF``/``SC``, NIR ``CubaLIF``).

A synaptic current :math:`i` filters the input, and the membrane integrates the current:

.. math::
    i_t = \\alpha\\,i_{t-1} + x_t, \\qquad
    m_t = \\beta\\,m_{t-1} + i_t - s_{t-1}\\,v_\\mathrm{th}, \\qquad s_t = H(m_t - v_\\mathrm{th}),

with the reset by the previous step's spike of :mod:`snnjax.neurons.leaky` (``reset="soft"``, snnTorch's
"subtract"; ``reset="hard"``: :math:`m_t = \\beta (1 - s_{t-1}) m_{t-1} + i_t`, snnTorch's "zero").
``syn_decay`` is α, ``decay`` is β. (snnTorch's ``Synaptic`` with ``reset_mechanism="zero"`` differs:
it zeroes the whole membrane of the step after a spike, :math:`m_t = (1 - s_{t-1})(\beta m_{t-1} + i_t)`,
a one-step refractory period; its ``Leaky`` and our hard reset keep the new current.) NIR's ``CubaLIF`` discretised with step Δt is
``syn_decay = 1 - Δt/τ_syn``, ``decay = 1 - Δt/τ_mem`` (with ``w_in``, ``r`` folded into the weights).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from snnjax.core import surrogate
from snnjax.core.neurons import dynamics
from snnjax.core.neurons.leaky import reset_by_previous_spike

Array = jax.Array


class CuBaLIFState(NamedTuple):
    """State of a current-based LIF layer.

    Attributes:
        syn: synaptic current :math:`i_{t-1}`, ``[*neuron_shape]``.
        mem: membrane before its reset, :math:`m_{t-1}`.
        spike: the last step's spikes :math:`s_{t-1}`.
    """

    syn: Array
    mem: Array
    spike: Array


def cuba_lif_init_state(shape: tuple[int, ...], dtype: Any = jnp.float32) -> CuBaLIFState:
    """The resting state: no current, ``mem = 0``, no spike."""
    zeros = jnp.zeros(shape, dtype)
    return CuBaLIFState(syn=zeros, mem=zeros, spike=zeros)


def cuba_lif_step(
    state: CuBaLIFState,
    x_t: Array,
    *,
    decay: ArrayLike,
    syn_decay: ArrayLike,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    reset: str = "soft",
    detach_reset: bool = False,
) -> tuple[CuBaLIFState, Array]:
    """One step ``(state, x_t) -> (state, s_t)`` (see the module docstring)."""
    dynamics.check_state("cuba_lif_step", state, x_t, fields=CuBaLIFState._fields, init="cuba_lif_init_state")
    syn = dynamics.charge(state.syn, x_t, syn_decay)
    carried, subtracted = reset_by_previous_spike(state.mem, state.spike, v_th, reset, detach_reset)
    mem = dynamics.charge(carried, syn, decay) - subtracted
    s = spike_fn(mem, dynamics.as_dtype(v_th, mem))
    return CuBaLIFState(syn, mem, s), s.astype(x_t.dtype)


def cuba_lif(
    x_seq: Array,
    *,
    decay: ArrayLike,
    syn_decay: ArrayLike,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    state: CuBaLIFState | None = None,
    reset: str = "soft",
    detach_reset: bool = False,
    unroll: int = 1,
) -> tuple[Array, CuBaLIFState]:
    """Current-based LIF over a sequence: ``x_seq [T, *shape] -> (s_seq, CuBaLIFState)``."""
    dynamics.check_sequence(x_seq)
    dynamics.check_state("cuba_lif", state, x_seq, fields=CuBaLIFState._fields, init="cuba_lif_init_state", sequence=True)
    dynamics.check_reset(reset)
    if state is None:
        state = cuba_lif_init_state(x_seq.shape[1:], x_seq.dtype)
    step = functools.partial(cuba_lif_step, decay=decay, syn_decay=syn_decay, v_th=v_th,
                             spike_fn=spike_fn, reset=reset, detach_reset=detach_reset)
    state, s_seq = jax.lax.scan(step, state, x_seq, unroll=unroll)
    return s_seq, state
