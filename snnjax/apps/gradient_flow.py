"""How far back in time a trained net's error reaches: the CE-LIF paper's Fig. 6.

    python -m snnjax.apps.gradient_flow runs/<name> [runs/<other> ...] --out DIR

For one spiking layer ℓ (by default the last one the model calls: "the gradients of the last hidden
layer", ce-lif paper, Fig. 6 and its supplement's "Efficacy of CE in Facilitating Long-term TCA"),
with input current :math:`I_\\ell[t]` (what its neurons integrate at step t), the figure shows

.. math::
    g[t, n] = \\frac{1}{B} \\sum_b \\left| \\frac{\\partial L}{\\partial I_\\ell[t, b, n]} \\right|,
    \\qquad \\hat g = g / \\max_{t, n} g,

the task loss L of the run's config (no regulariser) over B test examples, differentiated through
the whole net and every later step: the total error that step t's input receives, which vanishes
at early steps when the net cannot carry error back that far (the paper's ALIF and LSTM). The
paper's normalisation was lost in the text copy ("normalized as … for visualization"); dividing by
the largest value is our reading.

The gradient is taken by a Flax method interceptor (:func:`flax.linen.intercept_methods`) that adds
a zero perturbation to the chosen :class:`~snnjax.nn.layers.spiking.SpikingNeuron`'s input, so it
works for any model whose spiking layers see whole sequences (the per-layer schedule, which a
:class:`~snnjax.nn.models.sequence_net.SequenceSNN` is switched to); the parameters are the
checkpoint's, unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

GRADIENT_FLOW_PNG = "gradient_flow.png"
NUM_EXAMPLES = 64  # test examples the gradient is averaged over


def _per_layer(model):
    """``model`` with its spiking layers run over whole sequences (``scan="layer"`` where it has one)."""
    return model.clone(scan="layer") if getattr(model, "scan", "layer") != "layer" else model


def _neuron_call(context) -> tuple[str, ...] | None:
    """The module path of an intercepted :class:`SpikingNeuron` call, or None for any other call."""
    from snnjax.nn.layers.spiking import SpikingNeuron

    if isinstance(context.module, SpikingNeuron) and context.method_name == "__call__":
        return tuple(context.module.scope.path)
    return None


def _forward(net, variables: dict, x):
    """``net``'s evaluation-mode forward pass (the encoder's key fixed)."""
    import jax

    return net.apply(variables, x, train=False, rngs={"encoder": jax.random.PRNGKey(0)})


def spiking_layers(model, variables: dict, x) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
    """The ``(module path, input shape)`` of every :class:`SpikingNeuron` call of one forward pass, in order."""
    import flax.linen as nn
    import jax

    calls = []

    def record(next_fun, args, kwargs, context):
        path = _neuron_call(context)
        if path is not None:
            calls.append((path, tuple(args[0].shape)))
        return next_fun(*args, **kwargs)

    net = _per_layer(model)
    with nn.intercept_methods(record):
        jax.eval_shape(lambda v, x: _forward(net, v, x), variables, x)
    return calls


def input_gradients(model, variables: dict, x, y, loss_cfg, layer: Sequence[str] | None = None):
    """``(path, ∂L/∂I)``: the gradient of the task loss with respect to spiking layer ``layer``'s input
    current (``[T, B, ...]``; default: the last spiking layer), at the parameters ``variables``.

    Raises ``ValueError`` when the model has no spiking layer called on a whole sequence, or no layer ``layer``.
    """
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    from snnjax.core import losses

    x, y = jnp.asarray(x), jnp.asarray(y)
    calls = spiking_layers(model, variables, x)
    if not calls:
        raise ValueError("the model has no spiking layer run over a whole sequence: nothing to differentiate")
    shapes = dict(calls)
    path = tuple(layer) if layer is not None else calls[-1][0]
    if path not in shapes:
        raise ValueError(f"no spiking layer {'/'.join(path)!r}; the model's are: {', '.join('/'.join(p) for p in shapes)}")
    net = _per_layer(model)

    def loss(delta):
        def perturb(next_fun, args, kwargs, context):
            if _neuron_call(context) == path:
                args = (args[0] + delta.astype(args[0].dtype),) + tuple(args[1:])
            return next_fun(*args, **kwargs)

        with nn.intercept_methods(perturb):
            output = _forward(net, variables, x)
        return losses.total_loss_from_config(output, y, loss_cfg)[1]["loss_global"]

    return path, jax.jit(jax.grad(loss))(jnp.zeros(shapes[path], jnp.float32))


def gradient_map(grad) -> np.ndarray:
    """:math:`\\hat g` ``[T, neurons]`` of a gradient ``[T, B, ...]``: the mean magnitude over the
    examples, divided by its largest value (all zeros stay zeros)."""
    g = np.abs(np.asarray(grad, np.float64))
    g = g.reshape(g.shape[0], g.shape[1], -1).mean(axis=1)
    top = g.max()
    return g / top if top > 0 else g


def run_gradient_map(workdir: str | Path, num_examples: int = NUM_EXAMPLES) -> dict[str, Any]:
    """Fig. 6's record of a run's newest checkpoint: ``{"run", "step", "layer", "neuron", "map",
    "per_step"}`` with ``map`` :math:`\\hat g` ``[T, neurons]`` and ``per_step`` its mean over the neurons."""
    from snnjax.tool.run_dir import load_run

    run = load_run(workdir)
    n = min(num_examples, run.dataset.test.num_examples)
    x, y = run.dataset.test.get(np.arange(n))
    path, grad = input_gradients(run.model, run.variables, x, y, run.config.loss)
    g = gradient_map(grad)
    return {"run": Path(workdir).name, "step": run.step, "layer": "/".join(path),
            "neuron": str(run.config.model.neuron.kind), "examples": int(n), "map": g.tolist(),
            "per_step": g.mean(axis=1).tolist()}


def plot_gradient_flow(records: Sequence[dict[str, Any]], png: Path, labels: Sequence[str] | None = None):
    """One heat map per run (neurons × time step, :math:`\\hat g`) above the mean over neurons per
    step on a log scale, all runs in one figure; returns the PNG and SVG paths."""
    from snnjax.apps.plotting import save_figure, styled

    labels = list(labels) if labels is not None else [f"{r['neuron']} ({r['run']})" for r in records]
    with styled() as plt:
        fig, axes = plt.subplots(2, len(records), figsize=(4.2 * len(records), 6.4), squeeze=False)
        for i, (record, label) in enumerate(zip(records, labels)):
            g = np.asarray(record["map"])
            image = axes[0, i].imshow(g.T, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=1)
            axes[0, i].set(title=label, xlabel="time step", ylabel=f"neuron (layer {record['layer']})")
            axes[0, i].grid(False)
            fig.colorbar(image, ax=axes[0, i], label="|∂L/∂I| / max")
            per_step = np.asarray(record["per_step"])
            axes[1, i].semilogy(np.arange(len(per_step)), np.where(per_step > 0, per_step, np.nan))
            axes[1, i].set(xlabel="time step", ylabel="|∂L/∂I| / max, mean over neurons")
        paths = save_figure(fig, png)
    return paths


def write_figure(records: Sequence[dict[str, Any]], png: Path, labels: Sequence[str] | None = None) -> list[Path]:
    """:func:`plot_gradient_flow` of ``records`` as ``png`` (and its SVG), with the records beside it
    as ``png.with_suffix(".json")``; returns the three paths."""
    from snnjax.tool.run_files import write_owned

    png.parent.mkdir(parents=True, exist_ok=True)
    data = png.with_suffix(".json")
    write_owned(data, json.dumps(list(records)) + "\n")
    return [*plot_gradient_flow(records, png, labels), data]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m snnjax.apps.gradient_flow", description=__doc__.splitlines()[0])
    parser.add_argument("workdirs", nargs="+", help="run directories with a checkpoint")
    parser.add_argument("--out", required=True, help="folder for gradient_flow.png/.svg and gradient_flow.json")
    parser.add_argument("--examples", type=int, default=NUM_EXAMPLES, help="test examples averaged over")
    args = parser.parse_args(argv)
    from snnjax.apps.plotting import require_matplotlib

    try:
        require_matplotlib()
        records = [run_gradient_map(w, args.examples) for w in args.workdirs]
    except (ImportError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in write_figure(records, Path(args.out) / GRADIENT_FLOW_PNG):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
