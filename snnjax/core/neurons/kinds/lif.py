"""The LIF family's kinds: ``lif``, ``llc_lif``, ``if``, ``plif`` (:mod:`snnjax.core.neurons.lif`,
:mod:`~snnjax.core.neurons.if_neuron`, :mod:`~snnjax.core.neurons.plif`).

All four charge ``h_t = k v_{t-1} + x_t`` (or SpikingJelly's ``k v_{t-1} + (1 - k) x_t`` with
``decay_input``), fire on ``h_t >= v_th`` and reset; they differ in the leak ``k``: ``decay``
(LIF), ``sigmoid(a)`` learnt (LLC-LIF, llc-lif paper §3.1), 1 (IF), ``sigmoid(w)`` learnt (PLIF,
Fang et al. 2021 Eq. 4–5). NIR's LIF node (:mod:`snnjax.io.nir.mapping`) expresses LIF, LLC-LIF and
IF with a hard reset.
"""

from __future__ import annotations

from snnjax.core.neurons.if_neuron import if_neuron, if_step
from snnjax.core.neurons.kind import NeuronKind, per_layer_or_channel, register_neuron
from snnjax.core.neurons.lif import lif, lif_init_state, lif_step, llc_leak, llc_lif, llc_lif_step
from snnjax.core.neurons.plif import plif, plif_step, plif_w_init


class _LIFFamily(NeuronKind):
    """A membrane ``v`` (:class:`~snnjax.core.neurons.lif.LIFState`), the pallas kernel, BPTA."""

    impls = ("scan", "pallas")

    def init_state(self, cfg, params, shape, dtype):
        return lif_init_state(shape, dtype)


@register_neuron("lif")
class LIF(_LIFFamily):
    """LIF with a fixed leak ``k = decay``."""

    display_name = "LIF"
    options = ("decay", "bpta_alpha", "decay_input")
    nir_options = ("decay", "decay_input")

    def step(self, cfg, params):
        kwargs = cfg.step_kwargs(params)
        return lambda state, x_t, te_t=None: lif_step(state, x_t, decay=cfg.decay, **kwargs)

    def sequence(self, cfg, params, x_seq, state, te):
        return lif(x_seq, decay=cfg.decay, state=state, unroll=cfg.unroll, impl=cfg.impl, **cfg.step_kwargs(params))

    def nir_leak(self, cfg, params):
        return cfg.decay


@register_neuron("llc_lif")
class LLCLIF(_LIFFamily):
    """LLC-LIF: the leak ``sigmoid(a)`` (``sigmoid(-a)`` with ``decay_input``) is learnt, ``a`` per
    layer or per channel, starting at ``a_init``."""

    display_name = "LLC-LIF"
    options = ("a_init", "per_channel", "bpta_alpha", "decay_input")
    nir_options = ("a_init", "per_channel", "decay_input")

    def parameters(self, cfg, channels):
        return {"a": per_layer_or_channel(cfg, channels, cfg.a_init)}

    def step(self, cfg, params):
        kwargs = cfg.step_kwargs(params)
        return lambda state, x_t, te_t=None: llc_lif_step(state, x_t, params["a"], **kwargs)

    def sequence(self, cfg, params, x_seq, state, te):
        return llc_lif(x_seq, params["a"], state=state, unroll=cfg.unroll, impl=cfg.impl, **cfg.step_kwargs(params))

    def nir_leak(self, cfg, params):
        return llc_leak(params["a"], cfg.decay_input)


@register_neuron("if")
class IF(_LIFFamily):
    """IF: no leak (``k = 1``)."""

    display_name = "IF"
    decay_input = False
    options = ("bpta_alpha",)
    nir_options = ()

    def step(self, cfg, params):
        kwargs = dict(cfg.reset_kwargs(params), bpta_alpha=cfg.bpta_alpha)
        return lambda state, x_t, te_t=None: if_step(state, x_t, **kwargs)

    def sequence(self, cfg, params, x_seq, state, te):
        return if_neuron(x_seq, state=state, unroll=cfg.unroll, impl=cfg.impl, bpta_alpha=cfg.bpta_alpha,
                         **cfg.reset_kwargs(params))

    def nir_leak(self, cfg, params):
        return 1.0


@register_neuron("plif")
class PLIF(_LIFFamily):
    """PLIF: the leak ``sigmoid(w)`` is learnt, ``w`` starting at ``-log(init_tau - 1)``."""

    display_name = "PLIF"
    options = ("init_tau", "per_channel", "bpta_alpha", "decay_input")

    def parameters(self, cfg, channels):
        return {"w": per_layer_or_channel(cfg, channels, plif_w_init(cfg.init_tau))}

    def step(self, cfg, params):
        kwargs = cfg.step_kwargs(params)
        return lambda state, x_t, te_t=None: plif_step(state, x_t, params["w"], **kwargs)

    def sequence(self, cfg, params, x_seq, state, te):
        return plif(x_seq, params["w"], state=state, unroll=cfg.unroll, impl=cfg.impl, **cfg.step_kwargs(params))
