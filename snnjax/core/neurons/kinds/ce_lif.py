"""The ``ce_lif`` kind: a threshold driven by a learned temporal encoding ``te [T, N]`` (the CE-LIF
paper Eq. 4; :mod:`snnjax.core.neurons.ce_lif`)."""

from __future__ import annotations

from snnjax.core.neurons.ce_lif import ce_lif, ce_lif_init_state, ce_lif_step
from snnjax.core.neurons.kind import NeuronKind, register_neuron


@register_neuron("ce_lif")
class CELIF(NeuronKind):
    """CE-LIF: its step takes ``te_t``; its threshold state starts at ``v_th``."""

    display_name = "CE-LIF"
    needs_te = True
    impls = ("scan", "pallas")
    options = ("decay", "rho", "bpta_alpha", "decay_input", "threshold_drive")
    nir_refusal = "NIR 1.0 has no neuron with a learned temporal threshold"

    def init_state(self, cfg, params, shape, dtype):
        return ce_lif_init_state(shape, params.get("v_th", cfg.v_th), dtype)

    def step(self, cfg, params):
        kwargs = cfg.step_kwargs(params)
        return lambda state, x_t, te_t: ce_lif_step(state, x_t, te_t, decay=cfg.decay, rho=cfg.rho,
                                                    threshold_drive=cfg.threshold_drive, **kwargs)

    def sequence(self, cfg, params, x_seq, state, te):
        return ce_lif(x_seq, te, decay=cfg.decay, rho=cfg.rho, state=state, unroll=cfg.unroll, impl=cfg.impl,
                      threshold_drive=cfg.threshold_drive, **cfg.step_kwargs(params))
