"""Local error signals: an auxiliary classifier after a conv block (llc-lif paper §3.4).

Each head reads a block's output, classifies it, and its MSE against the one-hot label is added to
the loss: :math:`L = \\sum_i L_{\\mathrm{local},i} + L_\\mathrm{global}`. The head follows the
released code: Flatten → Dropout(0.5) → Linear(→ 10·K) → LIF → voting(K).

:func:`block_boundary` stops gradients between blocks when ``detach=True``: each block then learns
from its own local classifier only (true local learning, and the backward pass of a block no longer
needs the activations of the blocks after it).
"""

from __future__ import annotations

import flax.linen as nn
import jax

from snnjax.nn.layers.dropout import TimeConsistentDropout
from snnjax.nn.layers.spiking import NeuronConfig, SpikingNeuron
from snnjax.nn.layers.synapse import SeqDense
from snnjax.core.voting import vote

Array = jax.Array


def block_boundary(x: Array, detach: bool) -> Array:
    """The input of the next block: ``stop_gradient(x)`` for local learning, else ``x``."""
    return jax.lax.stop_gradient(x) if detach else x


def flatten_steps(x: Array) -> Array:
    """``[T, B, ...] -> [T, B, N]``: every step's features as one vector (what a head reads)."""
    return x.reshape(x.shape[:2] + (-1,))


class LocalClassifier(nn.Module):
    """Auxiliary classifier ``[T, B, ...] -> [T, B, K]`` (spike rates after voting).

    Attributes:
        num_classes: K.
        neuron: the head's spiking neurons.
        votes_per_class: neurons per class before voting (10 in the papers).
        dropout: dropout rate before the linear layer (0.5 in the released code).
        analog_input: the head reads analog values (e.g. a conv output before its neurons).
        use_bias: the linear layer has a bias (text; the llc-lif released code has none).
    """

    num_classes: int
    neuron: NeuronConfig = NeuronConfig()
    votes_per_class: int = 10
    dropout: float = 0.5
    analog_input: bool = False
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: Array, *, train: bool) -> Array:
        flat = TimeConsistentDropout(self.dropout)(flatten_steps(x), train=train)
        current = SeqDense(self.num_classes * self.votes_per_class, use_bias=self.use_bias, analog_input=self.analog_input)(flat)
        spikes = SpikingNeuron(self.neuron)(current)
        return vote(spikes, self.num_classes)
