"""The markdown results table of a plan, and its place in ``docs/results.md``.

The table is generated; the prose around it is written by hand. The command replaces only the text
between ``<!-- reproduce:<plan>:begin -->`` and ``<!-- reproduce:<plan>:end -->``, appending the
section (with its markers) when the file has none yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from snnjax.apps.reproduce.plans import Experiment
from snnjax.apps.reproduce.results import RunResult


def format_value(value: float | None, metric: str) -> str:
    """``98.84 %`` for accuracies (stored as fractions), 4 significant digits otherwise, ``—`` for None."""
    if value is None:
        return "—"
    return f"{100 * value:.2f} %" if metric == "accuracy" else f"{value:.4g}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _status(result: RunResult) -> str:
    if result.status in ("finished", "running"):
        return f"{result.status}, {result.epoch} evals / step {result.step}"
    return result.status


def markdown_table(rows: Sequence[tuple[Experiment, RunResult]]) -> str:
    """One row per experiment: the paper's figure beside ours (at the best validation evaluation and
    at the last one), and where each number comes from."""
    lines = [
        "| run | config | paper | ours: test at best validation (step) | ours: last test | baseline "
        "| status | wall time | seed | commit |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for e, r in rows:
        at_best = format_value(r.test_at_best_validation, e.metric)
        if r.best_step is not None:
            at_best += f" ({r.best_step}{', tie' if r.best_was_tie else ''})"
        commits = ", ".join(f"`{c[:7]}`" for c in r.commits) or "—"
        lines.append(
            f"| {e.label} (`{e.name}`) | `{e.config}` | {e.paper} | {at_best} | {format_value(r.final_test, e.metric)} "
            f"| {format_value(e.baseline, e.metric)} | {_status(r)} | {_duration(r.wall_time_s)} "
            f"| {'—' if r.seed is None else r.seed} | {commits} |"
        )
    return "\n".join(lines)


def _mean_std(values: Sequence[float], metric: str) -> str:
    """``"85.12 ± 0.31 %"`` (the sample standard deviation; none with one value), ``—`` with none."""
    if not values:
        return "—"
    mean = sum(values) / len(values)
    if len(values) < 2:
        return format_value(mean, metric)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    if metric == "accuracy":
        return f"{100 * mean:.2f} ± {100 * std:.2f} %"
    return f"{mean:.4g} ± {std:.2g}"


def arm_table(arms: Sequence[Experiment], rows: Sequence[tuple[Experiment, RunResult]]) -> str:
    """One row per arm: the mean ± standard deviation over its finished seeds of the test figure at
    the best validation evaluation and of the last one, each seed's figure, and how many of its runs
    have finished (a row with unfinished runs says so; its figures are over the finished ones)."""
    lines = [
        "| arm | config | paper | test at best validation, mean ± std | last test, mean ± std "
        "| each seed: at best validation / last | finished |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for arm in arms:
        runs = [(e, r) for e, r in rows if e.arm == arm.name]
        done = [(e, r) for e, r in runs if r.status == "finished"]
        at_best = [r.test_at_best_validation for _, r in done if r.test_at_best_validation is not None]
        last = [r.final_test for _, r in done if r.final_test is not None]
        seeds = ", ".join(
            f"s{e.overrides['train.seed']}: {format_value(r.test_at_best_validation, arm.metric)} / "
            f"{format_value(r.final_test, arm.metric)}" + ("" if r.status == "finished" else f" ({r.status})")
            for e, r in runs if r.status != "missing")
        lines.append(f"| {arm.label} (`{arm.name}`) | `{arm.config}` | {arm.paper} | {_mean_std(at_best, arm.metric)} "
                     f"| {_mean_std(last, arm.metric)} | {seeds or '—'} | {len(done)} of {len(runs)} |")
    return "\n".join(lines)


def section(plan: str, body: str) -> str:
    return f"<!-- reproduce:{plan}:begin -->\n{body.rstrip()}\n<!-- reproduce:{plan}:end -->"


def update_markdown(path: Path, plan: str, body: str) -> None:
    """Writes ``body`` between the plan's markers in ``path`` (created or appended when absent)."""
    begin, end = f"<!-- reproduce:{plan}:begin -->", f"<!-- reproduce:{plan}:end -->"
    text = path.read_text() if path.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + section(plan, body) + tail
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + section(plan, body) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
