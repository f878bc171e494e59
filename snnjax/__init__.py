"""snnjax: spiking neural networks in JAX and Flax.

The subpackages: ``neurons`` (pure neuron functions), ``surrogate`` (spike functions), ``layers``
(Flax modules), ``models`` (nets built from a config), ``losses``, ``data``. The names users reach for
first are also here at the top: ``snnjax.SpikingNeuron``, ``snnjax.SequenceSNN``, ``snnjax.register_neuron``...

Everything here loads lazily (PEP 562): ``import snnjax`` imports no submodule, and
``import snnjax.neurons`` or ``import snnjax.surrogate`` needs only JAX (no Flax, optax or
the training tool's dependencies). A name of :data:`__all__` imports its module on first use.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any


def _installed_version() -> str:
    """The version of the installed ``snnjax`` distribution, or ``"0+unknown"`` when not installed."""
    try:
        return importlib.metadata.version("snnjax")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _installed_version()

# Submodules reachable as ``snnjax.<name>`` without importing them first.
_SUBMODULES = ("data", "layers", "losses", "models", "monitor", "neurons", "surrogate")

# Top-level name -> (module that defines it, attribute there).
_ATTRIBUTES = {
    "NEURON_KINDS": ("snnjax.layers", "NEURON_KINDS"),
    "NeuronConfig": ("snnjax.layers", "NeuronConfig"),
    "NeuronKind": ("snnjax.layers", "NeuronKind"),
    "RecurrentSpikingLayer": ("snnjax.layers", "RecurrentSpikingLayer"),
    "RecurrentState": ("snnjax.layers", "RecurrentState"),
    "SeqConv": ("snnjax.layers", "SeqConv"),
    "SeqDense": ("snnjax.layers", "SeqDense"),
    "SpikingNeuron": ("snnjax.layers", "SpikingNeuron"),
    "encoders": ("snnjax.layers", "encoders"),
    "register_neuron": ("snnjax.layers", "register_neuron"),
    "ENCODERS": ("snnjax.layers.encoders", "ENCODERS"),
    "register_encoder": ("snnjax.layers.encoders", "register"),
    "ConvSNN": ("snnjax.models", "ConvSNN"),
    "ModelOutput": ("snnjax.models", "ModelOutput"),
    "SequenceSNN": ("snnjax.models", "SequenceSNN"),
    "SequenceState": ("snnjax.models", "SequenceState"),
    "build_model": ("snnjax.models", "build_model"),
}

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


def __getattr__(name: str) -> Any:
    """Import a submodule or a top-level name of :data:`__all__` on first use (PEP 562)."""
    if name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    elif name in _ATTRIBUTES:
        module, attribute = _ATTRIBUTES[name]
        value = getattr(importlib.import_module(module), attribute)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    """The module's own names and every lazily loaded name of :data:`__all__`."""
    return sorted(set(globals()) | set(__all__))
