"""The ``lif_no_reset`` kind: a LIF without reset, whose sequence is an associative scan
(``jax.lax.associative_scan``, :mod:`snnjax.core.neurons.parallel`).

It reads ``decay``, ``v_th`` (learnable with ``learn_threshold``), the surrogate and ``decay_input``;
it has no reset, so ``reset`` and ``detach_reset`` do not apply, nor BPTA. ``impl`` stays
``"scan"``, the config's one value for the non-kernel forms. The leaky-integrator readout
(:func:`snnjax.core.neurons.li_parallel`) is not a spiking kind: call it directly.
"""

from __future__ import annotations

from snnjax.core.neurons.kind import NeuronKind, register_neuron
from snnjax.core.neurons.lif import lif_init_state
from snnjax.core.neurons.parallel import lif_no_reset, lif_no_reset_step


def _kwargs(cfg, params):
    return dict(decay=cfg.decay, v_th=params.get("v_th", cfg.v_th), spike_fn=cfg.spike_fn(), decay_input=cfg.decay_input)


@register_neuron("lif_no_reset")
class LIFNoReset(NeuronKind):
    """``h_t = k h_{t-1} + x_t``, ``s_t = H(h_t - v_th)``, the membrane never reset."""

    bpta = False
    options = ("decay", "decay_input")

    def init_state(self, cfg, params, shape, dtype):
        return lif_init_state(shape, dtype)

    def step(self, cfg, params):
        kwargs = _kwargs(cfg, params)
        return lambda state, x_t, te_t=None: lif_no_reset_step(state, x_t, **kwargs)

    def sequence(self, cfg, params, x_seq, state, te):
        return lif_no_reset(x_seq, state=state, **_kwargs(cfg, params))
