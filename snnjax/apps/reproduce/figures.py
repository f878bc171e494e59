"""Learning-curve figures of a plan: one PNG per ``Experiment.figure`` group (matplotlib, headless).

Each figure has two panels: the training loss over steps (as logged, every ``log_every_steps``),
and the plan's metric on the test split at every evaluation, with the trivial baseline drawn as a
dashed line where the task has one (adding problem: MSE 1/6; copy memory: 10 ln 8 / (T + 20)).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from snnjax.apps.plotting import pyplot
from snnjax.apps.reproduce.plans import Experiment
from snnjax.apps.reproduce.results import RunResult

_YLABEL = {"accuracy": "test accuracy (%)", "mse": "test MSE", "loss": "test cross-entropy"}


def _by_arm(rows: Sequence[tuple[Experiment, RunResult]]) -> list[tuple[Experiment, list[RunResult]]]:
    """Rows grouped by arm (a run without an arm is its own group), in order of first appearance."""
    groups: dict[str, tuple[Experiment, list[RunResult]]] = {}
    for e, r in rows:
        groups.setdefault(e.arm or e.name, (e, []))[1].append(r)
    return list(groups.values())


def _seed_curve(results: Sequence[RunResult], series: str, key: str):
    """``(steps, mean, std)`` over the runs at the steps every one of them logged; None when none has
    ``key``. One run gives a zero band."""
    curves = [dict(zip(*(a.tolist() for a in getattr(r, series)[key]))) for r in results if key in getattr(r, series)]
    if not curves:
        return None
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    values = np.asarray([[c[s] for s in steps] for c in curves], np.float64)
    return np.asarray(steps), values.mean(axis=0), values.std(axis=0, ddof=1) if len(curves) > 1 else 0 * values[0]


def plot_group(title: str, rows: Sequence[tuple[Experiment, RunResult]], path: Path) -> Path | None:
    """Draws the runs of one figure group into ``path``; None when none of them has data yet. The
    seeds of an arm are drawn as their mean with a band of ± one standard deviation (over the
    steps every seed has reached)."""
    rows = [(e, r) for e, r in rows if r.train or r.evals]
    if not rows:
        return None
    plt = pyplot()
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (experiment, results) in enumerate(_by_arm(rows)):
        color = f"C{i}"
        label = experiment.label + (f" ({len(results)} seeds, mean ± std)" if len(results) > 1 else "")
        scale = 100.0 if experiment.metric == "accuracy" else 1.0
        for ax, series, key, style in ((ax_loss, "train", "train/loss", {}),
                                       (ax_metric, "evals", f"test/{experiment.metric}", {"marker": "o", "ms": 3})):
            curve = _seed_curve(results, series, key)
            if curve is None:
                continue
            steps, mean, std = curve
            k = scale if ax is ax_metric else 1.0
            ax.plot(steps, k * mean, color=color, label=label, **style)
            if len(results) > 1:
                ax.fill_between(steps, k * (mean - std), k * (mean + std), color=color, alpha=0.2, lw=0)
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
