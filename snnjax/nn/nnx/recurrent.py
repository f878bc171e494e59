"""A recurrent spiking layer as an NNX module: input current plus recurrent current from its own spikes.

.. math::  x_t = W_\\mathrm{in} s^\\mathrm{in}_t + b_\\mathrm{in} + W_\\mathrm{rec} s_{t-1} + b_\\mathrm{rec}

The same layer as :class:`snnjax.layers.RecurrentSpikingLayer` (CE-LIF paper's recurrent variants;
parameters ``input/kernel``, ``input/bias``, ``w_rec``, ``b_rec`` and the neuron's own, e.g. ``a`` or
``v_th``): the input part runs layer-wise over ``T·B``, the recurrent part inside the scan with the
neuron's single-step function. Its state is :class:`snnjax.layers.RecurrentState` ``(neuron, spikes)``.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import DTypeLike

from snnjax.nn.layers.recurrent import RecurrentState, recurrent_current
from snnjax.nn.layers.spiking import NEURON_KINDS, NeuronConfig
from snnjax.nn.layers.synapse import torch_uniform
from snnjax.nn.nnx.neuron import _checked_kind, create_neuron_params, neuron_param_values
from snnjax.nn.nnx.synapse import SeqDense

Array = jax.Array


class RecurrentSpikingLayer(nnx.Module):
    """``[T, B, in_features] -> [T, B, features]`` spikes, with all-to-all recurrent weights.

    Args:
        in_features, features: input and layer widths.
        neuron: the layer's neurons.
        init_scale: multiplies PyTorch's default init of ``W_rec`` (see the Linen layer).
        rngs: ``nnx.Rngs`` with a ``params`` stream.
    """

    def __init__(self, in_features: int, features: int, neuron: NeuronConfig = NeuronConfig(), *,
                 init_scale: float = 1.0, rngs: nnx.Rngs):
        self.features = features
        self.neuron = neuron
        self.input = SeqDense(in_features, features, rngs=rngs)
        init = torch_uniform(features)
        self.w_rec = nnx.Param(init_scale * init(rngs.params(), (features, features)))
        self.b_rec = nnx.Param(init(rngs.params(), (features,)))
        self.param_names = create_neuron_params(self, neuron, features, rngs=rngs)

    def initial_state(self, batch_shape: int | Sequence[int], dtype: DTypeLike = jnp.float32) -> RecurrentState:
        """Rest: the neuron's resting state and no spikes, for inputs ``[*batch_shape, in_features]``."""
        batch_shape = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        shape = batch_shape + (self.features,)
        kind = NEURON_KINDS.lookup(self.neuron.kind)
        params = neuron_param_values(self, self.param_names)
        return RecurrentState(kind.init_state(self.neuron, params, shape, dtype), jnp.zeros(shape, dtype))

    def _neuron_step(self, state: RecurrentState, current_t: Array, te_t: Array | None) -> tuple[Array, RecurrentState]:
        kind = _checked_kind(self.neuron, te_t)
        fn = kind.step(self.neuron, neuron_param_values(self, self.param_names))
        x_t = current_t + recurrent_current(state.spikes, self.w_rec[...], self.b_rec[...])
        neuron_state, s_t = fn(state.neuron, x_t, te_t) if kind.needs_te else fn(state.neuron, x_t)
        return s_t, RecurrentState(neuron_state, s_t)

    def __call__(self, x_seq: Array, state: RecurrentState | None = None, *,
                 te: Array | None = None) -> tuple[Array, RecurrentState]:
        """``x_seq [T, B, in_features]`` from ``state`` (None: rest) -> ``(s_seq [T, B, features], state)``.

        ``te``: CE-LIF's temporal encoding ``[T, features]``.
        """
        _checked_kind(self.neuron, te)
        current = self.input(x_seq)
        if state is None:
            state = self.initial_state(current.shape[1:-1], current.dtype)
        te_seq = te if te is not None else jnp.zeros((current.shape[0], 0), current.dtype)

        def body(st: RecurrentState, inputs: tuple[Array, Array]) -> tuple[RecurrentState, Array]:
            current_t, te_t = inputs
            s_t, st = self._neuron_step(st, current_t, te_t if te is not None else None)
            return st, s_t

        state, s_seq = jax.lax.scan(body, RecurrentState(*state), (current, te_seq),
                                    unroll=self.neuron.scan_unroll(current.shape[0]))
        return s_seq, state

    def step(self, x_t: Array, state: RecurrentState | None = None, *,
             te_t: Array | None = None) -> tuple[Array, RecurrentState]:
        """One step: ``x_t [B, in_features] -> (s_t [B, features], state)`` (``te_t [features]``: CE-LIF)."""
        current_t = self.input.step(x_t)
        if state is None:
            state = self.initial_state(current_t.shape[:-1], current_t.dtype)
        return self._neuron_step(RecurrentState(*state), current_t, te_t)
