"""NIR (Neuromorphic Intermediate Representation, ``nir`` 1.0) exchange.

``export_nir(model_cfg, variables, input_shape) -> nir.NIRGraph`` writes a trained ``ConvSNN``
(:mod:`snnjax.nir.export`); ``import_nir(graph) -> (apply_fn, params)`` runs a chain of NIR nodes
(:mod:`snnjax.nir.importing`); :mod:`snnjax.nir.mapping` is the neuron ↔ NIR parameter mapping both
use, with the time step (1e-4 s, SpikingJelly's and snnTorch's default) and the threshold rule.
docs/nir.md says what SpikingJelly, snnTorch and Norse read and write.
"""

from snnjax.io.nir.export import (
    conv_to_nir,
    dense_to_nir,
    export_nir,
    unsupported_features,
    vote_to_nir,
)
from snnjax.io.nir.importing import SUPPORTED_NODES, chain_order, import_nir
from snnjax.io.nir.mapping import (
    DEFAULT_DT,
    SPIKE_CONDITIONS,
    EulerLIF,
    check_dt,
    check_neuron_node,
    lif_to_nir,
    neuron_problems,
    nir_neuron_kinds,
    nir_if_to_euler,
    nir_lif_to_euler,
)

__all__ = [
    "DEFAULT_DT",
    "SPIKE_CONDITIONS",
    "SUPPORTED_NODES",
    "EulerLIF",
    "chain_order",
    "check_dt",
    "check_neuron_node",
    "conv_to_nir",
    "dense_to_nir",
    "export_nir",
    "import_nir",
    "lif_to_nir",
    "neuron_problems",
    "nir_if_to_euler",
    "nir_lif_to_euler",
    "nir_neuron_kinds",
    "unsupported_features",
    "vote_to_nir",
]
