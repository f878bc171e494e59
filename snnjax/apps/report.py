"""A report for a run directory: figures (PNG and vector SVG) and one HTML page that shows them.

    python -m snnjax.report runs/<name>            # writes runs/<name>/report/{*.png, *.svg, index.html}

The page (:mod:`snnjax.apps.report_page`) holds the results of ``summary.json`` as tables (accuracy,
energy and synaptic operations per example, firing rates), the captioned figures, and the config
(the settings that differ from the defaults first). Figures: loss and accuracy (or MSE) curves;
per-layer firing rates (last evaluation, and over training); the learned leaks k_τ per layer over
training (LLC-LIF: sigmoid(a), or sigmoid(-a) under ``neuron.decay_input``, as logged by the
trainer); a spike raster of one test example through every spiking layer, its neurons ranked by
spike count; and for CE-LIF the cosine similarity between the learned temporal encodings of
different time steps (ce-lif paper, Fig. 7). Matplotlib, headless, one style
(:func:`snnjax.apps.plotting.styled`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from snnjax.tool import checkpointing
from snnjax.tool import run_files
from snnjax.tool.config import base_config
from snnjax.tool.run_dir import Run, load_run
from snnjax.tool.run_directory import RunDirectory
from snnjax.apps.plotting import require_matplotlib, save_figure, styled
from snnjax.apps.report_page import Plot, format_number, write_page

RATE_UNIT = "spikes / neuron / time step"
RASTER_NEURONS = 100  # rows per raster panel: enough to see the spread, few enough to see each row


def read_metrics(workdir: str | Path) -> list[dict[str, Any]]:
    """The run's metrics records (each has ``step`` and some scalars), by the one reader
    :meth:`RunDirectory.read_metrics` (a half-written last line dropped with a warning, NaN/inf
    restored).

    Raises:
        FileNotFoundError: the run has no metrics file (not a run directory written by train.py).
    """
    run_dir = RunDirectory(workdir)
    if not run_dir.has_metrics():
        raise FileNotFoundError(f"{run_dir.metrics_path} not found: is {run_dir.path} a run directory written by "
                                "snnjax-train (train.py)?")
    return run_dir.read_metrics()


def series(rows: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of every row holding ``key``."""
    pts = [(r["step"], r[key]) for r in rows if key in r and isinstance(r[key], (int, float))]
    if not pts:
        return np.zeros(0), np.zeros(0)
    steps, values = zip(*pts)
    return np.asarray(steps), np.asarray(values, np.float64)


def keys_with_prefix(rows: list[dict[str, Any]], prefix: str) -> list[str]:
    return sorted({k for r in rows for k in r if k.startswith(prefix)})


def cosine_similarity_matrix(te: np.ndarray) -> np.ndarray:
    """``[T, N] -> [T, T]``: cosine similarity between the TE vectors of every pair of time steps."""
    norms = np.linalg.norm(te, axis=1, keepdims=True)
    unit = te / np.maximum(norms, 1e-12)
    return unit @ unit.T


def spike_trains(run: Run, index: int = 0) -> dict[str, np.ndarray]:
    """``{layer path: [T, neurons]}``: the spikes of every spiking layer for test example ``index``
    (recorded by :func:`snnjax.monitor.record`, without the membranes)."""
    import jax
    import jax.numpy as jnp

    from snnjax.nn import monitor

    x, _ = run.dataset.test.get(np.asarray([index]))
    records = monitor.record(run.model, run.variables, jnp.asarray(x), membranes=False, train=False,
                             rngs={"encoder": jax.random.PRNGKey(0)}, mutable=["spikes", "synops"])
    trains = {}
    for layer, rec in records.items():
        s = np.asarray(rec.spikes, np.float32)
        trains[layer] = s.reshape(s.shape[0], s.shape[1], -1)[:, 0]
    return trains


def raster_order(spikes: np.ndarray, max_neurons: int = RASTER_NEURONS, seed: int = 0) -> np.ndarray:
    """The neurons of a raster's rows, top row first: of ``spikes`` ``[T, neurons]``, the neurons that
    spiked at least once, ranked by spike count, most active first (ties in index order). When more
    than ``max_neurons`` spiked, a random sample of ``max_neurons`` of them (seeded, so the report is
    reproducible): a sample shows the layer's spread, where the most active would all fire at every step."""
    active = np.flatnonzero(spikes.sum(axis=0))
    if active.size > max_neurons:
        active = np.sort(np.random.default_rng(seed).choice(active, max_neurons, replace=False))
    return active[np.argsort(-spikes[:, active].sum(axis=0), kind="stable")]


def raster_cells(spikes: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(time step, rank)`` of every spike of the neurons ``order`` (rank 1 = ``order[0]``, the top row)."""
    t, row = np.nonzero(spikes[:, order])
    return t, row + 1


# ---------------------------------------------------------------------------- figures


def _integer_steps(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_curves(rows, out: Path, loss_name: str | None = None, log_every: int | None = None) -> Plot:
    metric = "accuracy" if series(rows, "test/accuracy")[0].size else "mse"
    with styled() as plt:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        for split in ("train", "test", "validation"):
            for ax, key in zip(axes, (f"{split}/loss", f"{split}/{metric}")):
                s, v = series(rows, key)
                if s.size:
                    ax.plot(s, 100 * v if metric == "accuracy" and key != f"{split}/loss" else v, label=split,
                            marker=None if split == "train" else "o")
        axes[0].set(xlabel="training step", ylabel=f"loss ({loss_name})" if loss_name else "loss", yscale="log",
                    title="loss")
        axes[1].set(xlabel="training step", ylabel="accuracy (%)" if metric == "accuracy" else "MSE",
                    title=metric if metric == "accuracy" else "mean squared error")
        for ax in axes:
            _integer_steps(ax)
            if ax.get_legend_handles_labels()[0]:  # a run with no evaluation yet has no test curve
                ax.legend()
        paths = save_figure(fig, out / "curves.png")
    every = f"the {log_every} steps" if log_every else "the steps"
    what = "accuracy" if metric == "accuracy" else "mean squared error"
    return Plot(*paths, f"Loss (left, log scale) and {what} (right) against the training step. Training figures "
                        f"are means over {every} since the previous log; test (and validation) figures are over the "
                        "whole split at each evaluation.")


def last_firing_rates(rows, summary: dict | None) -> dict[str, float]:
    """``{layer: rate}`` of the last evaluation on the test set: the summary's, else the last logged
    (a run that has not finished)."""
    keys = keys_with_prefix(rows, "firing_rate/")
    return (summary or {}).get("firing_rates") or {k[len("firing_rate/"):]: float(series(rows, k)[1][-1]) for k in keys}


def plot_firing_rates(rows, summary: dict | None, out: Path) -> Plot | None:
    keys = keys_with_prefix(rows, "firing_rate/")
    rates = last_firing_rates(rows, summary)
    if not rates:
        return None
    names = list(rates)
    with styled() as plt:
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        colour = {name: colours[i % len(colours)] for i, name in enumerate(names)}
        fig, axes = plt.subplots(1, 2, figsize=(10, 0.5 * len(names) + 2.4))
        bars = axes[0].barh(range(len(names)), [rates[n] for n in names], color=[colour[n] for n in names])
        axes[0].bar_label(bars, labels=[format_number(rates[n], 3) for n in names], padding=3, fontsize=8)
        axes[0].set(yticks=range(len(names)), yticklabels=names, ylabel="spiking layer", xlabel=f"firing rate ({RATE_UNIT})",
                    title="last evaluation on the test set")
        axes[0].invert_yaxis()  # the input side at the top
        axes[0].margins(x=0.15)
        for k in keys:
            s, v = series(rows, k)
            name = k[len("firing_rate/"):]
            axes[1].plot(s, v, marker="o", label=name, color=colour.get(name))
        axes[1].set(xlabel="training step", ylabel=f"firing rate ({RATE_UNIT})", title="each evaluation on the test set")
        _integer_steps(axes[1])
        if keys:
            axes[1].legend()
        paths = save_figure(fig, out / "firing_rates.png")
    return Plot(*paths, "Mean firing rate of each spiking layer, averaged over its neurons, time steps and the whole "
                        "test set: at the last evaluation (left) and at every evaluation during training (right).")


def plot_leaks(rows, out: Path) -> Plot | None:
    keys = keys_with_prefix(rows, "leak/")
    if not keys:
        return None
    with styled() as plt:
        fig, ax = plt.subplots(figsize=(6.5, 3.6))
        for k in keys:
            s, v = series(rows, k)
            ax.plot(s, v, marker="o", label=k[len("leak/"):])
        ax.set(xlabel="training step", ylabel="leak k_τ (unitless, 0 to 1)", title="learned leak per layer (LLC-LIF)")
        _integer_steps(ax)
        ax.legend()
        paths = save_figure(fig, out / "leaks.png")
    return Plot(*paths, "Learned membrane leak k_τ of each LLC-LIF layer at the end of each epoch: the factor that "
                        "multiplies the membrane potential at every time step (mean over the layer when it has "
                        "one per channel; 0 forgets at once, 1 never leaks).")


def plot_raster(trains: dict[str, np.ndarray], out: Path, max_neurons: int = RASTER_NEURONS, example: int = 0,
                test_rates: dict[str, float] | None = None) -> Plot | None:
    if not trains:
        return None
    from matplotlib.collections import PolyCollection

    with styled() as plt:
        fig, axes = plt.subplots(len(trains), 1, figsize=(8, 2.4 * len(trains) + 0.4), squeeze=False)
        for ax, (name, s) in zip(axes[:, 0], trains.items()):
            order = raster_order(s, max_neurons)
            t, rank = raster_cells(s, order)
            cells = [[(x - 0.45, y - 0.4), (x + 0.45, y - 0.4), (x + 0.45, y + 0.4), (x - 0.45, y + 0.4)]
                     for x, y in zip(t, rank)]
            ax.add_collection(PolyCollection(cells, facecolors="k", edgecolors="none", rasterized=len(cells) > 20000))
            n, active = s.shape[1], int(np.count_nonzero(s.sum(axis=0)))
            shown = f"{len(order)} of the {active:,}" if len(order) < active else f"the {active:,}" if active else "no"
            ax.set(xlim=(-0.5, s.shape[0] - 0.5), ylim=(max(len(order), 1) + 0.5, 0.5),
                   ylabel=f"{shown} spiking\nneurons, by spike count",
                   title=f"{name}: rate {format_number(float(s.mean()), 3)} on this example; "
                         f"{format_number(100 * (n - active) / n, 3)} % of its {n:,} neurons silent")
            if not active:
                ax.text(0.5, 0.5, "no spike", transform=ax.transAxes, ha="center", va="center")
            ax.grid(False)
            _integer_steps(ax)
        axes[-1, 0].set_xlabel(f"time step (T = {next(iter(trains.values())).shape[0]})")
        paths = save_figure(fig, out / "raster.png")
    layers = "; ".join(f"{name} {format_number(float(s.mean()))}"
                       + (f" here, {format_number(test_rates[name])} over the test set" if name in (test_rates or {}) else "")
                       for name, s in trains.items())
    return Plot(*paths, f"Spikes of test example {example} through every spiking layer: each black cell is one spike "
                        "of one neuron at one time step. Rows are the neurons that spiked on this example (a random "
                        f"sample of {max_neurons} where more did), ranked by spike count, the most active at the top; "
                        "the silent ones are counted in the titles. The rates in the titles "
                        f"({RATE_UNIT}) are over this one example and all the layer's neurons, so they differ from "
                        f"the firing-rate figure's, which average over the whole test set: {layers}.")


TE_SIMILARITY_PNG = "te_similarity.png"


def plot_te_similarity(params: dict, out: Path) -> Plot | None:
    if "te" not in params:
        return None
    sim = cosine_similarity_matrix(np.asarray(params["te"], np.float64))
    with styled() as plt:
        fig, ax = plt.subplots(figsize=(5, 4.2))
        image = ax.imshow(sim, cmap="viridis", vmin=-1, vmax=1, origin="lower")
        fig.colorbar(image, ax=ax, label="cosine similarity (-1 to 1)")
        ax.set(xlabel="time step", ylabel="time step", title="learned temporal encodings")
        ax.grid(False)
        paths = save_figure(fig, out / TE_SIMILARITY_PNG)
    return Plot(*paths, "Cosine similarity between the learned temporal-encoding vectors of every pair of time steps "
                        "(CE-LIF; ce-lif paper, Fig. 7): 1 on the diagonal, and the lower the rest, the more each "
                        "time step has an encoding of its own.")


def make_report(workdir: str | Path, out: str | Path | None = None) -> list[Path]:
    """Writes the report's figures (PNG and SVG) and ``index.html`` into ``out`` (default ``workdir/report``)."""
    workdir = Path(workdir)
    out = Path(out) if out else workdir / "report"
    run_dir = RunDirectory(workdir)
    rows = read_metrics(workdir)  # everything that can fail is read before `out` is created
    summary = run_dir.read_summary()
    config = run_dir.read_config() if run_dir.has_config() else (summary or {}).get("config")
    run = None
    if run_dir.checkpoints_path.exists():
        if run_dir.latest_checkpoint_step() is None:
            print(f"note: no checkpoint in {run_dir.checkpoints_path} yet: the report has no spike raster "
                  "or learned-parameter plots", file=sys.stderr)
        else:
            run = load_run(workdir)
    out.mkdir(parents=True, exist_ok=True)
    loss_name = (config or {}).get("loss", {}).get("name")
    log_every = (config or {}).get("train", {}).get("log_every_steps")
    test_rates = last_firing_rates(rows, summary)
    plots = [plot_curves(rows, out, loss_name, log_every), plot_firing_rates(rows, summary, out), plot_leaks(rows, out)]
    example_rates = None
    if run is not None:
        trains = spike_trains(run, index=0)
        example_rates = {name: float(s.mean()) for name, s in trains.items()}
        plots += [plot_raster(trains, out, example=0, test_rates=test_rates),
                  plot_te_similarity(run.variables["params"], out)]
    plots = [p for p in plots if p is not None]
    defaults = json.loads(base_config().to_json_best_effort())  # as config.json holds the run's config
    page = write_page(out, f"snnjax run {workdir.name}", plots, summary, config, defaults, test_rates, example_rates,
                      example=0)
    return [p.png for p in plots] + [p.svg for p in plots] + [page]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", help="a run directory written by snnjax-train (or train.py in a checkout)")
    parser.add_argument("--out", help="output folder (default: <workdir>/report)")
    args = parser.parse_args(argv)
    try:
        require_matplotlib()
        paths = make_report(args.workdir, args.out)
    except (FileNotFoundError, ImportError, checkpointing.CheckpointError, run_files.RunDirError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
