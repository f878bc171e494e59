"""Spiking neurons as pure functions.

Each neuron has a single-step function ``(state, x_t) -> (state, s_t)`` and a multi-step function
``f(x_seq, ...) -> (s_seq, state)`` that scans it over the leading (time) axis. All take the keyword
arguments ``v_th``, ``spike_fn``, ``state``, ``reset``, ``detach_reset`` and ``bpta_alpha``.
"""

from snnjax.neurons.alif import ALIFState, alif, alif_init_state, alif_step
from snnjax.neurons.ce_lif import CELIFState, ce_lif, ce_lif_init_state, ce_lif_step
from snnjax.neurons.lif import (
    LIFState,
    lif,
    lif_init_state,
    lif_step,
    llc_leak,
    llc_lif,
    llc_lif_step,
)

__all__ = [
    "ALIFState",
    "CELIFState",
    "LIFState",
    "alif",
    "alif_init_state",
    "alif_step",
    "ce_lif",
    "ce_lif_init_state",
    "ce_lif_step",
    "lif",
    "lif_init_state",
    "lif_step",
    "llc_leak",
    "llc_lif",
    "llc_lif_step",
]
