"""Native Flax NNX modules over snnjax's pure neuron functions (``from snnjax import nnx as snnx``).

The same layers and models as :mod:`snnjax.layers` and :mod:`snnjax.models` (Linen), built from the
same ``NeuronConfig`` and ``NEURON_KINDS`` entries, with the Linen names for every parameter, and
tested to compute the same outputs and gradients for the same weights. State is an explicit value in
and out (``layer(x, state) -> (out, state)``, ``layer.step(x_t, state)``, ``layer.initial_state``),
never an ``nnx.Variable`` (LLC-BN's running statistics are ``nnx.BatchStat``, as in ``nnx.BatchNorm``);
docs/nnx.md says why, and how to train these with ``nnx.Optimizer``.

Only this subpackage imports ``flax.nnx``: ``import snnjax`` does not load it.
"""

from snnjax.nn.nnx.conv import ConvBlock, ConvSNN
from snnjax.nn.nnx.convert import (
    linen_tree,
    linen_variables,
    load_linen_variables,
    neuron_state_from_linen,
    neuron_state_to_linen,
)
from snnjax.nn.nnx.dropout import time_consistent_dropout
from snnjax.nn.nnx.llc_batch_norm import LLCBatchNorm
from snnjax.nn.nnx.local_classifier import LocalClassifier
from snnjax.nn.nnx.neuron import SpikingNeuron, create_leak, create_neuron_params
from snnjax.nn.nnx.ossa import OSSA
from snnjax.nn.nnx.recurrent import RecurrentSpikingLayer
from snnjax.nn.nnx.sequence import SequenceSNN
from snnjax.nn.nnx.synapse import SeqConv, SeqDense

__all__ = [
    "ConvBlock",
    "ConvSNN",
    "LLCBatchNorm",
    "LocalClassifier",
    "OSSA",
    "RecurrentSpikingLayer",
    "SeqConv",
    "SeqDense",
    "SequenceSNN",
    "SpikingNeuron",
    "create_leak",
    "create_neuron_params",
    "linen_tree",
    "linen_variables",
    "load_linen_variables",
    "neuron_state_from_linen",
    "neuron_state_to_linen",
    "time_consistent_dropout",
]
