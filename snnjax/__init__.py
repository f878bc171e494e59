"""snnjax: spiking neural networks in JAX and Flax.

The public modules: ``neurons`` (pure neuron functions), ``surrogate`` (spike functions), ``layers``
(Flax modules), ``models`` (nets built from a config), ``nnx`` (the same in Flax NNX), ``losses``,
``data``, ``nir``, ``monitor``, ``energy``, ``testing``. The names users reach for first are also here
at the top: ``snnjax.SpikingNeuron``, ``snnjax.SequenceSNN``, ``snnjax.register_neuron``...

The code lives in one folder per layer, each importing only from the ones before it:
``snnjax.core`` (pure JAX) -> ``snnjax.nn`` (Flax) -> ``snnjax.io`` (data, NIR) -> ``snnjax.tool``
(the training tool) -> ``snnjax.apps`` (report, export, summary, reproduce). The public paths above
are aliases of the folder modules (:mod:`snnjax._aliases`): ``snnjax.neurons is snnjax.core.neurons``.

Everything here loads lazily (PEP 562): ``import snnjax`` imports no submodule, and
``import snnjax.neurons`` or ``import snnjax.surrogate`` needs only JAX (no Flax, optax or
the training tool's dependencies). A name of :data:`__all__` imports its module on first use.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any

from snnjax import _aliases

_aliases.install()


def _installed_version() -> str:
    """The version of the installed ``snnjax`` distribution, or ``"0+unknown"`` when not installed."""
    try:
        return importlib.metadata.version("snnjax")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _installed_version()

# Submodules reachable as ``snnjax.<name>`` without importing them first: the layer folders and
# every alias (public and moved) of _aliases.
_SUBMODULES = ("core", "nn", "io", "tool", "apps") + tuple(
    name.split(".")[1] for name in (*_aliases.PUBLIC, *_aliases.MOVED) if name.count(".") == 1)

# Top-level name -> (module that defines it, attribute there; None: the module itself).
_ATTRIBUTES = {
    "NEURON_KINDS": ("snnjax.nn.layers", "NEURON_KINDS"),
    "NeuronConfig": ("snnjax.nn.layers", "NeuronConfig"),
    "NeuronKind": ("snnjax.nn.layers", "NeuronKind"),
    "RecurrentSpikingLayer": ("snnjax.nn.layers", "RecurrentSpikingLayer"),
    "RecurrentState": ("snnjax.nn.layers", "RecurrentState"),
    "SeqConv": ("snnjax.nn.layers", "SeqConv"),
    "SeqDense": ("snnjax.nn.layers", "SeqDense"),
    "SpikingNeuron": ("snnjax.nn.layers", "SpikingNeuron"),
    "encoders": ("snnjax.core.encoders", None),
    "register_neuron": ("snnjax.nn.layers", "register_neuron"),
    "ENCODERS": ("snnjax.core.encoders", "ENCODERS"),
    "register_encoder": ("snnjax.core.encoders", "register"),
    "ConvSNN": ("snnjax.nn.models", "ConvSNN"),
    "ModelOutput": ("snnjax.nn.models", "ModelOutput"),
    "SequenceSNN": ("snnjax.nn.models", "SequenceSNN"),
    "SequenceState": ("snnjax.nn.models", "SequenceState"),
    "build_model": ("snnjax.nn.models", "build_model"),
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
        value = importlib.import_module(module)
        value = value if attribute is None else getattr(value, attribute)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    """The module's own names and every lazily loaded name of :data:`__all__`."""
    return sorted(set(globals()) | set(__all__))
