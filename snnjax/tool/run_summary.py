"""What a finished run reports: ``summary.json`` (accuracy, firing rates, energy, throughput) and
the one-line messages the loop prints."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import flax
import jax
import numpy as np
from flax import traverse_util
from jax.sharding import Mesh

from snnjax.core import energy
from snnjax.tool import host_malloc
from snnjax.core import neurons
from snnjax.tool.evaluation import EvalResult
from snnjax.tool.input_pipeline import RunLength

PyTree = Any
Metrics = dict[str, float]

# Energy constants of the bpsa-bpta paper's estimate (its Table 6 uses E_FL_MAC and E_INT_ADD).
E_MAC, E_AC = energy.E_FL_MAC, energy.E_INT_ADD


def energy_report(synops: Mapping[str, Mapping[str, float]]) -> dict:
    """The bpsa-bpta energy estimate (paper Eq. 11) from the ``synops`` of an evaluation.

    T is the longest ``steps`` of any layer (a static first conv under direct coding runs once but
    is charged per step, as in the paper). Constants: ``E_FL_MAC`` = 4.6 pJ per MAC and
    ``E_INT_ADD`` = 0.1 pJ per accumulate (Horowitz 2014), which reproduce the paper's Table 6.
    """
    if not synops:
        return {}
    layers = [energy.LayerCost(name, c["macs"], None if c["analog_input"] else min(max(c["input_rate"], 0.0), 1.0))
              for name, c in synops.items()]
    time_steps = max(int(c["steps"]) for c in synops.values())
    report = energy.estimate_energy(layers, time_steps, e_mac=E_MAC, e_ac=E_AC)
    for layer in report["layers"]:
        layer["steps"] = int(synops[layer["name"]]["steps"])
    report["constants"] = {"e_mac": "E_FL_MAC = 4.6 pJ (32-bit float MAC, Horowitz 2014, 45 nm)",
                           "e_ac": "E_INT_ADD = 0.1 pJ (32-bit int add; bpsa-bpta paper's E_INT_AC)",
                           "units": "joules per example"}
    return report


def leak_values(params: PyTree, decay_input: bool) -> dict[str, float]:
    """``leak/<layer path>``: the LLC-LIF leak of every layer's parameter ``a`` (mean if per channel).

    The leak is :func:`snnjax.neurons.llc_leak`: ``sigmoid(a)``, or ``sigmoid(-a)`` under
    ``decay_input=True`` (where ``sigmoid(a)`` scales the input), so the logged figure is the factor
    that multiplies the membrane potential in both forms.

    Args:
        params: the model's parameters.
        decay_input: ``config.model.neuron.decay_input`` of the run (one value for every layer).
    """
    flat = traverse_util.flatten_dict(flax.core.unfreeze(jax.device_get(params)), sep="/")
    return {f"leak/{k[:-2]}": float(np.mean(np.asarray(neurons.llc_leak(np.asarray(v), decay_input), np.float64)))
            for k, v in flat.items() if k.endswith("/a") or k == "a"}


def count_params(params: PyTree) -> int:
    """Number of scalars in ``params``: arrays or the ``jax.ShapeDtypeStruct``s of ``jax.eval_shape``.

    Not ``optax.tree.size``: it calls ``jnp.size``, which JAX deprecates for ``ShapeDtypeStruct``
    leaves, and the loop counts the abstract parameters (nothing allocated).
    """
    return int(jax.tree.reduce(lambda total, leaf: total + math.prod(leaf.shape), params, 0))


def device_info(mesh: Mesh) -> dict:
    """The devices a run trained on, and whether its process reused freed host memory
    (:mod:`snnjax.tool.host_malloc`: ``"retain"`` or ``"default"``), which changes CPU speeds."""
    device = mesh.devices.flat[0]
    return {"platform": device.platform, "kind": device.device_kind, "count": int(mesh.size),
            "process_count": jax.process_count(), "host_malloc": "retain" if host_malloc.applied() else "default"}


def format_eval(name: str, m: Metrics) -> str:
    if "accuracy" in m:
        return f"{name} accuracy {100 * m['accuracy']:.2f}% loss {m['loss']:.4f}"
    return f"{name} mse {m['mse']:.5g} loss {m['loss']:.5g}"


def progress_postfix(mean: Metrics | None) -> dict[str, str]:
    if not mean:
        return {}
    out = {"loss": f"{mean['train/loss']:.4f}"}
    if "train/accuracy" in mean:
        out["acc"] = f"{100 * mean['train/accuracy']:.1f}%"
    if "train/mse" in mean:
        out["mse"] = f"{mean['train/mse']:.4g}"
    if "train/samples_per_s" in mean:
        out["samples/s"] = f"{mean['train/samples_per_s']:.0f}"
    return out


def build_summary(config, final: dict[str, EvalResult], best: dict, regression: bool, num_params: int,
             mesh: Mesh, step: int, length: RunLength, wall_time: float, samples_per_s: float | None) -> dict:
    key = "mse" if regression else "accuracy"
    test = final["test"]
    # best_* are None when every evaluation's figure was NaN (a NaN never wins: snnjax.tool.best_evaluation)
    summary: dict[str, Any] = {f"final_test_{key}": test.metrics[key], f"best_test_{key}": best.get(f"best_test_{key}"),
                               "final_test_loss": test.metrics["loss"]}
    if "validation" in final:
        summary[f"final_validation_{key}"] = final["validation"].metrics[key]
        summary[f"best_validation_{key}"] = best.get(f"best_validation_{key}")
        summary[f"test_{key}_at_best_validation"] = best.get(f"test_{key}_at_best_validation")
    summary.update(
        test_metrics=test.metrics,
        num_params=num_params,
        steps=step,
        epochs=step / length.steps_per_epoch,
        wall_time_s=wall_time,
        samples_per_s=samples_per_s,
        firing_rates=test.firing_rates,
        energy=energy_report(test.synops),
        device=device_info(mesh),
        jax_version=jax.__version__,
        flax_version=flax.__version__,
        config=json.loads(config.to_json_best_effort()),
    )
    return summary
