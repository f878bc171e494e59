"""Evaluation over a whole split: exact means of the per-example metrics, firing rates, costs.

Batches come from the host here (:func:`evaluate`); :func:`snnjax.tool.device_loop.make_eval_call` runs the
same eval step over the same batches of a split held on the device, and both reduce with
:func:`reduce_outputs`.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jax.sharding import Mesh

from snnjax.io import data as data_lib
from snnjax.tool.input_pipeline import eval_batches, prefetch, process_slice, shard_batch
from snnjax.tool.train_steps import TrainState

Metrics = dict[str, float]


@dataclasses.dataclass
class EvalResult:
    """Means over a whole split: metrics, firing rate per spiking layer, synaptic-layer costs."""

    metrics: Metrics
    firing_rates: dict[str, float]
    synops: dict[str, dict[str, float]]


def evaluate(eval_step, state: TrainState, split: data_lib.Split, batch_size: int, mesh: Mesh) -> EvalResult:
    """Runs ``eval_step`` over all of ``split`` (last partial batch padded and masked out).

    Metrics are exact means over the split. Firing rates are batch means weighted by each batch's
    number of real examples; the padded last batch's rates also include its (repeated) padding
    examples, a bias of at most ``batch_size - 1`` repeats.
    """

    def load(batch):
        idx, mask = batch
        local = process_slice(len(idx))
        x, y = split.get(idx[local], epoch=0)
        return x, y, mask[local]

    outputs = [eval_step(state, *shard_batch(b, mesh))
               for b in prefetch(load, eval_batches(split.num_examples, batch_size))]
    return reduce_outputs(jax.device_get(outputs))


def reduce_outputs(outputs: list) -> EvalResult:
    """Per-batch ``(sums, rates, synops)`` of the eval step (on the host) → means over the split.

    Shared by the host loop and the device loop (which scans the same step over the same batches),
    so both report the same numbers.
    """
    counts = np.array([float(s["count"]) for s, _, _ in outputs])
    total = counts.sum()
    metrics = {k: float(sum(float(s[k]) for s, _, _ in outputs) / total) for k in outputs[0][0] if k != "count"}
    weights = counts / total
    rates = {k: float(sum(w * float(r[k]) for w, (_, r, _) in zip(weights, outputs))) for k in outputs[0][1]}
    synops = {}
    for k, first in outputs[0][2].items():
        rate = float(sum(w * float(o[k]["input_rate"]) for w, (_, _, o) in zip(weights, outputs)))
        synops[k] = {"macs": float(first["macs"]), "input_rate": rate,
                     "analog_input": bool(first["analog_input"]), "steps": int(first["steps"])}
    return EvalResult(metrics, rates, synops)

