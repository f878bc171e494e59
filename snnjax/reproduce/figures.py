"""Learning-curve figures of a plan: one PNG per ``Experiment.figure`` group (matplotlib, headless).

Each figure has two panels: the training loss over steps (as logged, every ``log_every_steps``),
and the plan's metric on the test split at every evaluation, with the trivial baseline drawn as a
dashed line where the task has one (adding problem: MSE 1/6; copy memory: 10 ln 8 / (T + 20)).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from snnjax.plotting import pyplot
from snnjax.reproduce.plans import Experiment
from snnjax.reproduce.results import RunResult

_YLABEL = {"accuracy": "test accuracy (%)", "mse": "test MSE", "loss": "test cross-entropy"}


def plot_group(title: str, rows: Sequence[tuple[Experiment, RunResult]], path: Path) -> Path | None:
    """Draws the runs of one figure group into ``path``; None when none of them has data yet."""
    rows = [(e, r) for e, r in rows if r.train or r.evals]
    if not rows:
        return None
    plt = pyplot()
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (experiment, result) in enumerate(rows):
        color = f"C{i}"
        if "train/loss" in result.train:
            steps, values = result.train["train/loss"]
            ax_loss.plot(steps, values, color=color, label=experiment.label)
        key = f"test/{experiment.metric}"
        if key in result.evals:
            steps, values = result.evals[key]
            scale = 100.0 if experiment.metric == "accuracy" else 1.0
            ax_metric.plot(steps, scale * values, color=color, marker="o", ms=3, label=experiment.label)
        if experiment.baseline is not None:
            ax_metric.axhline(experiment.baseline, color=color, ls="--", lw=1,
                              label=f"baseline {experiment.baseline:.3g}")
    metric = rows[0][0].metric
    ax_loss.set(xlabel="training step", ylabel="training loss", yscale="log", title="training loss")
    ax_metric.set(xlabel="training step", ylabel=_YLABEL[metric], title=_YLABEL[metric],
                  yscale="linear" if metric == "accuracy" else "log")
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_figures(rows: Sequence[tuple[Experiment, RunResult]], out: Path) -> list[Path]:
    """One ``out/<group>.png`` per figure group of ``rows``; returns the paths written."""
    groups: dict[str, list[tuple[Experiment, RunResult]]] = {}
    for experiment, result in rows:
        if experiment.figure:
            groups.setdefault(experiment.figure, []).append((experiment, result))
    paths = [plot_group(name, group, out / f"{name}.png") for name, group in groups.items()]
    return [p for p in paths if p is not None]
