"""The markdown results table of a plan, and its place in ``docs/results.md``.

The table is generated; the prose around it is written by hand. The command replaces only the text
between ``<!-- reproduce:<plan>:begin -->`` and ``<!-- reproduce:<plan>:end -->``, appending the
section (with its markers) when the file has none yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from snnjax.reproduce.plans import Experiment
from snnjax.reproduce.results import RunResult


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
            at_best += f" ({r.best_step})"
        commits = ", ".join(f"`{c[:7]}`" for c in r.commits) or "—"
        lines.append(
            f"| {e.label} (`{e.name}`) | `{e.config}` | {e.paper} | {at_best} | {format_value(r.final_test, e.metric)} "
            f"| {format_value(e.baseline, e.metric)} | {_status(r)} | {_duration(r.wall_time_s)} "
            f"| {'—' if r.seed is None else r.seed} | {commits} |"
        )
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
