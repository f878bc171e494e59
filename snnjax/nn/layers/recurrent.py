"""A recurrent spiking layer: input current plus recurrent current from the layer's own last spikes.

.. math::  x_t = W_\\mathrm{in} s^\\mathrm{in}_t + b_\\mathrm{in} + W_\\mathrm{rec} s_{t-1} + b_\\mathrm{rec}

The input part runs layer-wise over the merged ``T·B`` batch; the recurrent part needs the previous
step's spikes, so it runs inside the scan with the neuron's single-step function (CE-LIF paper's
recurrent variants). Its state is :class:`RecurrentState` ``(neuron, spikes)``: the neuron's state and
the last step's spikes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.nn.layers.spiking import NeuronConfig, neuron_parameters, records, sow_spikes, step_function
from snnjax.nn.layers.synapse import SeqDense, torch_uniform
from snnjax.core.time import channels_last

Array = jax.Array


class RecurrentState(NamedTuple):
    """State of a :class:`RecurrentSpikingLayer`: the neuron's state and its last spikes ``[B, N]``."""

    neuron: Any
    spikes: Array


def recurrent_current(s_prev: Array, w_rec: Array, b_rec: Array) -> Array:
    """:math:`W_\\mathrm{rec} s_{t-1} + b_\\mathrm{rec}` for spikes ``s_prev [B, N]``."""
    return s_prev @ w_rec.astype(s_prev.dtype) + channels_last(b_rec.astype(s_prev.dtype), s_prev.ndim)


class RecurrentSpikingLayer(nn.Module):
    """``[T, B, N_in] -> [T, B, features]`` spikes, with all-to-all recurrent weights.

    ``init_scale`` multiplies PyTorch's default init of ``W_rec``: over hundreds of steps the
    recurrent Jacobian ``g'·W_rec`` compounds, and at scale 1 the gradients of a 784-step CE-LIF or
    ALIF net overflow at initialisation (see ``configs/ce_lif_common.py``). ``state`` continues from a
    carried :class:`RecurrentState` (None: rest); ``return_state=True`` returns ``(s_seq, state)``.
    """

    features: int
    neuron: NeuronConfig = NeuronConfig()
    analog_input: bool = False
    init_scale: float = 1.0

    @nn.compact
    def __call__(self, x_seq: Array, state: RecurrentState | None = None, *, te: Array | None = None,
                 return_state: bool = False) -> Array | tuple[Array, RecurrentState]:
        current = SeqDense(self.features, analog_input=self.analog_input, name="input")(x_seq)
        bound = torch_uniform(self.features)
        w_rec = self.param("w_rec", lambda k, s: self.init_scale * bound(k, s), (self.features, self.features))
        b_rec = self.param("b_rec", torch_uniform(self.features), (self.features,))
        params = neuron_parameters(self, self.neuron, self.features)
        init_state, step = step_function(self.neuron, params=params)
        batch_shape = current.shape[1:]
        te_seq = te if te is not None else jnp.zeros((current.shape[0], 0), current.dtype)

        def body(carry, inputs):
            neuron_state, s_prev = carry
            x_t, te_t = inputs
            neuron_state, s = step(neuron_state, x_t + recurrent_current(s_prev, w_rec, b_rec),
                                   te_t if te is not None else None)
            return RecurrentState(neuron_state, s), (s, neuron_state) if monitoring else s

        monitoring = records(self, "membranes")  # snnjax.monitor: every step's state, never in init

        if state is None:
            state = RecurrentState(init_state(batch_shape, current.dtype), jnp.zeros(batch_shape, current.dtype))
        state, s_seq = jax.lax.scan(body, RecurrentState(*state), (current, te_seq),
                                    unroll=self.neuron.scan_unroll(current.shape[0]))
        if monitoring:
            s_seq, trace = s_seq
            self.sow("membranes", "state", trace)
        sow_spikes(self, s_seq)
        return (s_seq, state) if return_state else s_seq
