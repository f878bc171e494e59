"""The ``alif`` kind: adaptive threshold ``θ_t = θ₀ + β η_t`` (Bellec et al. 2018;
:mod:`snnjax.core.neurons.alif`)."""

from __future__ import annotations

from snnjax.core.neurons.alif import alif, alif_init_state, alif_step
from snnjax.core.neurons.kind import NeuronKind, register_neuron


@register_neuron("alif")
class ALIF(NeuronKind):
    """LIF with a threshold that rises by ``beta`` after each spike and decays by ``rho``."""

    display_name = "ALIF"
    impls = ("scan", "pallas")
    options = ("decay", "rho", "beta", "bpta_alpha", "decay_input")
    nir_refusal = "NIR 1.0 has no adaptive-threshold neuron"

    def init_state(self, cfg, params, shape, dtype):
        return alif_init_state(shape, dtype)

    def step(self, cfg, params):
        kwargs = cfg.step_kwargs(params)
        return lambda state, x_t, te_t=None: alif_step(state, x_t, decay=cfg.decay, rho=cfg.rho, beta=cfg.beta,
                                                       **kwargs)

    def sequence(self, cfg, params, x_seq, state, te):
        return alif(x_seq, decay=cfg.decay, rho=cfg.rho, beta=cfg.beta, state=state, unroll=cfg.unroll,
                    impl=cfg.impl, **cfg.step_kwargs(params))
