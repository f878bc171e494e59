"""Local error signals: an auxiliary classifier after a conv block (llc-lif paper §3.4), as an NNX module.

Each head's loss (MSE of its votes against the one-hot label, :mod:`snnjax.losses`) is added to the
global one; ``block_boundary`` (:mod:`snnjax.layers.local_classifier`) stops gradients between
blocks for true local learning.
"""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx

from snnjax.nn.layers.local_classifier import flatten_steps
from snnjax.nn.layers.spiking import NeuronConfig
from snnjax.core.voting import vote
from snnjax.nn.nnx.dropout import time_consistent_dropout
from snnjax.nn.nnx.neuron import SpikingNeuron
from snnjax.nn.nnx.synapse import SeqDense

Array = jax.Array


class LocalClassifier(nnx.Module):
    """Auxiliary classifier ``[T, B, ...] -> [T, B, K]`` (llc-lif §3.4), as :class:`snnjax.layers.LocalClassifier`:
    flatten → time-consistent dropout → dense to ``votes_per_class·K`` → spiking neurons (from rest)
    → voting. Its attributes carry the Linen auto-names (``SeqDense_0``, ``SpikingNeuron_0``)."""

    def __init__(self, in_features: int, num_classes: int, neuron: NeuronConfig, *, votes_per_class: int = 10,
                 dropout: float = 0.5, use_bias: bool = True, rngs: nnx.Rngs):
        width = num_classes * votes_per_class
        self.SeqDense_0 = SeqDense(in_features, width, use_bias=use_bias, rngs=rngs)
        self.SpikingNeuron_0 = SpikingNeuron(width, neuron, rngs=rngs)
        self.num_classes, self.dropout = num_classes, dropout

    def __call__(self, x: Array, state: Any = None, *, train: bool, key: Array | None = None) -> tuple[Array, Any]:
        """``x [T, B, ...]`` from the neurons' ``state`` (None: rest) -> ``(votes [T, B, K], state)``."""
        flat = time_consistent_dropout(flatten_steps(x), self.dropout, key, train=train)
        spikes, state = self.SpikingNeuron_0(self.SeqDense_0(flat), state)
        return vote(spikes, self.num_classes), state
