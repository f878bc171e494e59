"""snnjax: spiking neural networks in JAX and Flax.

The subpackages: ``neurons`` (pure neuron functions), ``surrogate`` (spike functions), ``layers``
(Flax modules), ``models`` (nets built from a config), ``losses``, ``data``. The names users reach for
first are also here at the top: ``snnjax.SpikingNeuron``, ``snnjax.SequenceSNN``, ``snnjax.register_neuron``...
"""

from snnjax import neurons, surrogate  # noqa: I001  (first: the layers import them)
from snnjax import data, layers, losses, models, monitor
from snnjax.layers import (
    NEURON_KINDS,
    NeuronConfig,
    NeuronKind,
    RecurrentSpikingLayer,
    RecurrentState,
    SeqConv,
    SeqDense,
    SpikingNeuron,
    encoders,
    register_neuron,
)
from snnjax.layers.encoders import ENCODERS
from snnjax.layers.encoders import register as register_encoder
from snnjax.models import ConvSNN, ModelOutput, SequenceSNN, SequenceState, build_model

__version__ = "0.1.0"

__all__ = [
    "ConvSNN",
    "ENCODERS",
    "ModelOutput",
    "NEURON_KINDS",
    "NeuronConfig",
    "NeuronKind",
    "RecurrentSpikingLayer",
    "RecurrentState",
    "SeqConv",
    "SeqDense",
    "SequenceSNN",
    "SequenceState",
    "SpikingNeuron",
    "__version__",
    "build_model",
    "data",
    "encoders",
    "layers",
    "losses",
    "models",
    "monitor",
    "neurons",
    "register_encoder",
    "register_neuron",
    "surrogate",
]
