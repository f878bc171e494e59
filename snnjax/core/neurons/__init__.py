"""Spiking neurons as pure functions.

Each neuron has a single-step function ``(state, x_t) -> (state, s_t)`` and a multi-step function
``f(x_seq, ...) -> (s_seq, state)`` that scans it over the leading (time) axis. All take the keyword
arguments ``v_th``, ``spike_fn``, ``state``, ``reset`` and ``detach_reset``; the LIF family (LIF,
LLC-LIF, IF, PLIF, ALIF, CE-LIF) also ``bpta_alpha``. ``leaky`` and ``cuba_lif`` follow snnTorch's
convention of resetting by the previous step's spike.

For a net written by hand from these functions, :func:`time_scan` (a step's scan, rematerialised
every k steps) and :func:`remat_chunks` (any sequence function computed chunk by chunk, each chunk
rematerialised) trade recomputation for memory that does not grow with T
(:mod:`snnjax.core.scan`).

What a layer needs to use a neuron by name is its kind (:mod:`snnjax.core.neurons.kind`): the
:class:`NeuronKind` classes of :mod:`snnjax.core.neurons.kinds`, registered in :data:`NEURON_KINDS`
and configured by :class:`NeuronConfig`.
"""

from snnjax.core.neurons.alif import ALIFState, alif, alif_init_state, alif_step
from snnjax.core.neurons.ce_lif import THRESHOLD_DRIVES, CELIFState, ce_lif, ce_lif_init_state, ce_lif_step
from snnjax.core.neurons.cuba_lif import CuBaLIFState, cuba_lif, cuba_lif_init_state, cuba_lif_step
from snnjax.core.neurons.if_neuron import if_neuron, if_step
from snnjax.core.neurons.leaky import LeakyState, leaky, leaky_init_state, leaky_step
from snnjax.core.neurons.li import LIState, li, li_init_state, li_step
from snnjax.core.neurons.lif import (
    LIFState,
    lif,
    lif_init_state,
    lif_step,
    llc_leak,
    llc_lif,
    llc_lif_step,
)
from snnjax.core.neurons.parallel import li_parallel, lif_no_reset, lif_no_reset_step, linear_recurrence, psn, psn_init
from snnjax.core.neurons.plif import plif, plif_leak, plif_step, plif_w_init
from snnjax.core.scan import remat_chunks, time_scan
from snnjax.core.neurons.kind import NEURON_KINDS, NeuronConfig, NeuronKind, ParamSpec, register_neuron  # noqa: I001
from snnjax.core.neurons import kinds  # noqa: E402,F401  registers the built-in kinds

__all__ = [
    "ALIFState",
    "CELIFState",
    "THRESHOLD_DRIVES",
    "CuBaLIFState",
    "LIState",
    "LeakyState",
    "LIFState",
    "NEURON_KINDS",
    "NeuronConfig",
    "NeuronKind",
    "ParamSpec",
    "alif",
    "alif_init_state",
    "alif_step",
    "ce_lif",
    "ce_lif_init_state",
    "ce_lif_step",
    "cuba_lif",
    "cuba_lif_init_state",
    "cuba_lif_step",
    "if_neuron",
    "if_step",
    "leaky",
    "leaky_init_state",
    "leaky_step",
    "li",
    "li_init_state",
    "li_parallel",
    "li_step",
    "linear_recurrence",
    "lif",
    "lif_init_state",
    "lif_no_reset",
    "lif_no_reset_step",
    "lif_step",
    "llc_leak",
    "llc_lif",
    "llc_lif_step",
    "plif",
    "plif_leak",
    "plif_step",
    "plif_w_init",
    "psn",
    "psn_init",
    "register_neuron",
    "remat_chunks",
    "time_scan",
]
