"""Registers the neuron kind ``lif_no_reset``: a LIF without reset, run by an associative scan.

``NeuronConfig(kind="lif_no_reset")`` runs :func:`snnjax.neurons.lif_no_reset` over the sequence
(``jax.lax.associative_scan``, :mod:`snnjax.neurons.parallel`) and
:func:`snnjax.neurons.lif_no_reset_step` where a step is needed (the sequence nets' per-step scan,
the membrane monitor). It reads ``decay``, ``v_th`` (learnable with ``learn_threshold``), the
surrogate and ``decay_input``; it has no reset, so ``reset`` and ``detach_reset`` do not apply, nor
BPTA. ``impl`` stays ``"scan"``, the config's one value for the non-kernel forms.

The leaky-integrator readout (:func:`snnjax.neurons.li_parallel`) is not a spiking kind: call it
directly.
"""

from __future__ import annotations

from snnjax.core import neurons
from snnjax.nn.layers.spiking import NeuronKind, register_neuron


def _kwargs(cfg, params):
    return dict(decay=cfg.decay, v_th=params.get("v_th", cfg.v_th), spike_fn=cfg.spike_fn(), decay_input=cfg.decay_input)


LIF_NO_RESET = register_neuron("lif_no_reset", NeuronKind(
    step=lambda cfg, p: lambda st, x, te=None: neurons.lif_no_reset_step(st, x, **_kwargs(cfg, p)),
    init_state=lambda cfg, p, shape, dtype: neurons.lif_init_state(shape, dtype),
    sequence=lambda cfg, p, x, st, te: neurons.lif_no_reset(x, state=st, **_kwargs(cfg, p)),
    bpta=False,
    options=("decay", "decay_input"),
))
