"""A report for a run directory: PNG plots and one HTML page that shows them.

    python -m snnjax.report runs/<name>            # writes runs/<name>/report/{*.png, index.html}

Plots: loss and accuracy (or MSE) curves; per-layer firing rates (last evaluation, and over
training); the learned leaks k_τ per layer over training (LLC-LIF: sigmoid(a), or sigmoid(-a) under
``neuron.decay_input``, as logged by the trainer); a spike raster
of one test sample through every spiking layer; and for CE-LIF the cosine similarity between the
learned temporal encodings of different time steps (ce-lif paper, Fig. 7). Matplotlib, headless.
"""

from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path
from typing import Any

import numpy as np

from snnjax.tool import checkpointing
from snnjax.tool import run_files
from snnjax.tool.run_dir import Run, load_run
from snnjax.tool.run_directory import RunDirectory
from snnjax.apps.plotting import pyplot, require_matplotlib


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


def plot_curves(rows, out: Path) -> Path | None:
    plt = pyplot()
    metric = "accuracy" if series(rows, "test/accuracy")[0].size else "mse"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for key in ("train/loss", "test/loss", "validation/loss"):
        s, v = series(rows, key)
        if s.size:
            axes[0].plot(s, v, label=key, marker="o" if "train" not in key else None)
    axes[0].set(xlabel="step", ylabel="loss", yscale="log", title="loss")
    for key in (f"train/{metric}", f"test/{metric}", f"validation/{metric}"):
        s, v = series(rows, key)
        if s.size:
            axes[1].plot(s, 100 * v if metric == "accuracy" else v, label=key, marker="o" if "train" not in key else None)
    axes[1].set(xlabel="step", ylabel=f"{metric}{' (%)' if metric == 'accuracy' else ''}", title=metric)
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a run with no evaluation yet has no test curve
            ax.legend(fontsize=8)
    return _save(fig, out / "curves.png", plt)


def plot_firing_rates(rows, summary: dict | None, out: Path) -> Path | None:
    keys = keys_with_prefix(rows, "firing_rate/")
    rates = (summary or {}).get("firing_rates") or {k[len("firing_rate/"):]: series(rows, k)[1][-1] for k in keys}
    if not rates:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    names = list(rates)
    axes[0].barh(range(len(names)), [rates[n] for n in names])
    axes[0].set(yticks=range(len(names)), yticklabels=names, xlabel="mean firing rate (spikes / neuron / step)",
                title="firing rate per layer (last evaluation)")
    for k in keys:
        s, v = series(rows, k)
        axes[1].plot(s, v, marker="o", label=k[len("firing_rate/"):])
    axes[1].set(xlabel="step", ylabel="firing rate", title="firing rate over training")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    return _save(fig, out / "firing_rates.png", plt)


def plot_leaks(rows, out: Path) -> Path | None:
    keys = keys_with_prefix(rows, "leak/")
    if not keys:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for k in keys:
        s, v = series(rows, k)
        ax.plot(s, v, marker="o", label=k[len("leak/"):])
    ax.set(xlabel="step", ylabel="leak k_τ (neurons.llc_leak)", title="learned leak per layer (LLC-LIF)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out / "leaks.png", plt)


def plot_raster(trains: dict[str, np.ndarray], out: Path, max_neurons: int = 200) -> Path | None:
    if not trains:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(len(trains), 1, figsize=(8, 1.8 * len(trains) + 0.5), squeeze=False)
    for ax, (name, s) in zip(axes[:, 0], trains.items()):
        # the most active neurons, in their original order (most of a conv map is silent background)
        chosen = np.sort(np.argsort(-s.sum(axis=0), kind="stable")[:max_neurons])
        t, n = np.nonzero(s[:, chosen])
        ax.scatter(t, n, s=4, marker="|", color="k")
        ax.set(xlim=(-0.5, s.shape[0] - 0.5), ylim=(-0.5, len(chosen) - 0.5), ylabel="neuron (ranked)",
               title=f"{name}: {s.shape[1]} neurons ({len(chosen)} most active shown), rate {s.mean():.3f}")
    axes[-1, 0].set_xlabel("time step")
    return _save(fig, out / "raster.png", plt)


TE_SIMILARITY_PNG = "te_similarity.png"


def plot_te_similarity(params: dict, out: Path) -> Path | None:
    if "te" not in params:
        return None
    sim = cosine_similarity_matrix(np.asarray(params["te"], np.float64))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    image = ax.imshow(sim, cmap="viridis", vmin=-1, vmax=1, origin="lower")
    fig.colorbar(image, ax=ax, label="cosine similarity")
    ax.set(xlabel="time step", ylabel="time step", title="learned temporal encodings (ce-lif Fig. 7)")
    return _save(fig, out / TE_SIMILARITY_PNG, plt)


def _save(fig, path: Path, plt) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_html(out: Path, title: str, images: list[Path], summary: dict | None) -> Path:
    rows = ""
    if summary:
        shown = {k: v for k, v in summary.items() if isinstance(v, (int, float, str)) and k != "config"}
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in shown.items())
    body = "".join(f'<figure><img src="{p.name}" alt="{p.stem}"><figcaption>{p.stem}</figcaption></figure>' for p in images)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}img{max-width:100%}"
            "td{padding:2px 8px}</style></head>"
            f"<body><h1>{html.escape(title)}</h1><table>{rows}</table>{body}</body></html>\n")
    path = out / "index.html"
    path.write_text(page)
    return path


def make_report(workdir: str | Path, out: str | Path | None = None) -> list[Path]:
    """Writes the report's PNGs and ``index.html`` into ``out`` (default ``workdir/report``)."""
    workdir = Path(workdir)
    out = Path(out) if out else workdir / "report"
    run_dir = RunDirectory(workdir)
    rows = read_metrics(workdir)  # everything that can fail is read before `out` is created
    summary = run_dir.read_summary()
    run = None
    if run_dir.checkpoints_path.exists():
        if run_dir.latest_checkpoint_step() is None:
            print(f"note: no checkpoint in {run_dir.checkpoints_path} yet: the report has no spike raster "
                  "or learned-parameter plots", file=sys.stderr)
        else:
            run = load_run(workdir)
    out.mkdir(parents=True, exist_ok=True)
    images = [plot_curves(rows, out), plot_firing_rates(rows, summary, out), plot_leaks(rows, out)]
    if run is not None:
        images += [plot_raster(spike_trains(run), out), plot_te_similarity(run.variables["params"], out)]
    images = [p for p in images if p is not None]
    return images + [write_html(out, f"snnjax run {workdir.name}", images, summary)]


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
