"""snnTorch's neurons as kinds: ``leaky`` (``snn.Leaky``) and ``cuba_lif`` (``snn.Synaptic``), which
reset by the previous step's spike (:mod:`snnjax.core.neurons.leaky`, :mod:`~snnjax.core.neurons.cuba_lif`).

Both run the default sequence (a ``lax.scan`` of the step); neither has BPTA nor ``decay_input``.
"""

from __future__ import annotations

from snnjax.core.neurons.cuba_lif import cuba_lif_init_state, cuba_lif_step
from snnjax.core.neurons.kind import NeuronKind, register_neuron
from snnjax.core.neurons.leaky import leaky_init_state, leaky_step


@register_neuron("leaky")
class Leaky(NeuronKind):
    """``u_t = β u_{t-1} + x_t - s_{t-1} θ`` (β = ``decay``)."""

    display_name = "Leaky"
    bpta = False
    decay_input = False
    options = ("decay",)

    def init_state(self, cfg, params, shape, dtype):
        return leaky_init_state(shape, dtype)

    def step(self, cfg, params):
        kwargs = cfg.reset_kwargs(params)
        return lambda state, x_t, te_t=None: leaky_step(state, x_t, decay=cfg.decay, **kwargs)


@register_neuron("cuba_lif")
class CuBaLIF(NeuronKind):
    """A current-based LIF: a synaptic current ``i_t = α i_{t-1} + x_t`` (α = ``syn_decay``) charges
    the membrane ``u_t = β u_{t-1} + i_t``."""

    display_name = "CuBa-LIF"
    bpta = False
    decay_input = False
    options = ("decay", "syn_decay")

    def init_state(self, cfg, params, shape, dtype):
        return cuba_lif_init_state(shape, dtype)

    def step(self, cfg, params):
        kwargs = cfg.reset_kwargs(params)
        return lambda state, x_t, te_t=None: cuba_lif_step(state, x_t, decay=cfg.decay, syn_decay=cfg.syn_decay,
                                                           **kwargs)
