"""Flax modules that wrap the neurons into networks (time-major ``[T, B, ...]`` throughout)."""

from snnjax.core import encoders
from snnjax.nn.layers.dropout import Dropout, TimeConsistentDropout
from snnjax.nn.layers.llc_batch_norm import LLCBatchNorm, batch_moments, fold_into_weights, llc_batch_norm
from snnjax.nn.layers.local_classifier import LocalClassifier, block_boundary
from snnjax.nn.layers.ossa import OSSA
from snnjax.nn.layers.pooling import pool
from snnjax.nn.layers.recurrent import RecurrentSpikingLayer, RecurrentState
from snnjax.nn.layers.spiking import (
    NEURON_KINDS,
    NeuronConfig,
    NeuronKind,
    SpikingNeuron,
    leak_parameter,
    neuron_parameters,
    register_neuron,
    step_function,
)
from snnjax.nn.layers.synapse import SeqConv, SeqDense, torch_uniform
from snnjax.core.time import apply_merged, merge_time, split_time
from snnjax.core.voting import vote

__all__ = [
    "Dropout",
    "LLCBatchNorm",
    "LocalClassifier",
    "NEURON_KINDS",
    "NeuronConfig",
    "NeuronKind",
    "OSSA",
    "RecurrentSpikingLayer",
    "RecurrentState",
    "SeqConv",
    "SeqDense",
    "SpikingNeuron",
    "TimeConsistentDropout",
    "apply_merged",
    "batch_moments",
    "block_boundary",
    "encoders",
    "fold_into_weights",
    "leak_parameter",
    "llc_batch_norm",
    "merge_time",
    "neuron_parameters",
    "pool",
    "register_neuron",
    "split_time",
    "step_function",
    "torch_uniform",
    "vote",
]

from snnjax.nn.layers import parallel_kinds  # noqa: E402,F401  registers the kind lif_no_reset
