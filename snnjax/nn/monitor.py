"""Recording every spiking layer's spikes and membranes on a batch, without editing the model.

SpikingJelly's ``monitor.OutputMonitor`` / ``StateMonitor`` and snnTorch's probes attach hooks to a
module; here the layers already know how to report: their outputs are captured with Flax's
``capture_intermediates``, and their per-step states are sown into the ``membranes`` collection
when it is mutable (otherwise nothing is computed for it)::

    records = monitor.record(model, variables, x, train=False)
    records["neuron0"].spikes          # [T, B, N]
    records["neuron0"].state.v         # [T, B, N]: the membrane after each step (LIFState.v)

Layer names are the module paths (``fc0_neuron``, ``block1/neuron``...). A layer called more than
once in a forward pass gets one record per call (``name#1``, ...). Sequence nets record with
``scan="layer"`` (the per-step scan sows rates, counts and synops, not per-layer records). Under the
``scan="auto"`` default a plain eval-mode call on a CPU runs the per-step scan and a monitored call
the per-layer scans, which agree to float32 rounding, not bit for bit (their matmuls sum in
different orders); set ``scan="layer"`` where the two must be identical.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import numpy as np

SPIKING_LAYERS = ("SpikingNeuron", "RecurrentSpikingLayer")


class LayerRecord(NamedTuple):
    """One spiking layer's record.

    Attributes:
        spikes: ``[T, B, ...]`` the layer's output spikes.
        state: the neuron's state after every step, each field ``[T, B, ...]`` (``LIFState(v)``,
            ``ALIFState(v, eta)``, ...); None when membranes were not recorded.
    """

    spikes: jax.Array
    state: Any = None


def _is_spiking_layer(module: nn.Module, method_name: str) -> bool:
    return type(module).__name__ in SPIKING_LAYERS and method_name == "__call__"


def _by_layer(tree, leaf_name: str) -> dict[str, tuple]:
    """``{layer path: (value per call, ...)}`` from a sown/captured collection."""
    out = {}

    def visit(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == leaf_name and isinstance(v, tuple):
                    out["/".join(path)] = v
                else:
                    visit(v, path + [k])

    visit(tree, [])
    return out


def record(model: nn.Module, variables, x, *, membranes: bool = True, **apply_kwargs) -> dict[str, LayerRecord]:
    """Runs ``model.apply(variables, x, **apply_kwargs)`` and returns every spiking layer's record.

    Args:
        model, variables, x: as for ``model.apply``.
        membranes: also record each step's neuron state (one more scan per layer).
        **apply_kwargs: ``train=False``, ``rngs=...``, ``mutable=[...]`` (extra collections) and the
            rest of ``model.apply``'s arguments.

    Returns:
        ``{layer path: LayerRecord(spikes, state)}`` in the order the layers ran.
    """
    mutable = list(apply_kwargs.pop("mutable", [])) + ["intermediates"] + (["membranes"] if membranes else [])
    _, cols = model.apply(variables, x, capture_intermediates=_is_spiking_layer, mutable=mutable, **apply_kwargs)
    outputs = _by_layer(cols.get("intermediates", {}), "__call__")
    states = _by_layer(cols.get("membranes", {}), "state")
    records = {}
    for name, calls in outputs.items():
        for i, out in enumerate(calls):
            spikes = out[0] if isinstance(out, tuple) else out  # return_state=True returns (s, state)
            state = states.get(name, ())
            records[name if i == 0 else f"{name}#{i}"] = LayerRecord(spikes, state[i] if i < len(state) else None)
    return records


def as_numpy(records: dict[str, LayerRecord]) -> dict[str, dict[str, np.ndarray]]:
    """``{layer: {"spikes": array, "<state field>": array, ...}}`` as NumPy arrays (for plots, files)."""
    out = {}
    for name, rec in records.items():
        entry = {"spikes": np.asarray(rec.spikes)}
        if rec.state is not None:
            entry.update({k: np.asarray(v) for k, v in rec.state._asdict().items()})
        out[name] = entry
    return out
