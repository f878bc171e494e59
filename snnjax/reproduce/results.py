"""A run directory read back into the numbers of a results table, finished or still running.

Everything comes from the files ``train.py`` writes: the evaluations in ``metrics.jsonl`` (rows
with an ``epoch`` key hold ``test/*`` and ``validation/*``), ``summary.json`` once the run has
finished, the newest checkpoint's ``meta/metadata`` (wall time so far) while it runs, and
``provenance.jsonl`` (written by :mod:`snnjax.reproduce` at each launch: commit, command, machine).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from snnjax import best_evaluation
from snnjax.reproduce.plans import Experiment

PROVENANCE = "provenance.jsonl"
# The provenance key of a continuation that trained from step 0 because its base's run directory
# was gone (a machine that was not kept): its value is the base run's name.
RETRAINS = "retrains"


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What a table row and a figure need from one run directory.

    Attributes:
        status: ``"finished"``, ``"running"`` (evaluated at least once, no summary yet), ``"started"``
            (no evaluation yet) or ``"missing"`` (no run directory).
        step: the last evaluated step (0 when none).
        epoch: the last evaluated epoch (1-based, as ``metrics.jsonl`` counts).
        final_test: the test ``metric`` at the last evaluation.
        best_validation: the best validation ``metric`` over the evaluations.
        best_step: the step of that best validation evaluation (a tie goes to the later one:
            :mod:`snnjax.best_evaluation`, the trainer's rule).
        best_was_tie: whether the best validation figure occurred at more than one evaluation.
        test_at_best_validation: the test ``metric`` at that evaluation (the table's headline).
        wall_time_s: training wall time so far (summary, else the newest checkpoint).
        seed: ``train.seed`` of the run.
        commits: the commits the run was launched from, one per sitting (oldest first).
        machine: the machine of the first sitting, in words.
        evals: ``{key: (steps, values)}`` of every evaluated scalar (``test/accuracy``...).
        train: ``{key: (steps, values)}`` of every logged training scalar (``train/loss``...).
        retrains: the run this one retrained from step 0 instead of continuing it, or None.
    """

    status: str
    step: int = 0
    epoch: int = 0
    final_test: float | None = None
    best_validation: float | None = None
    best_step: int | None = None
    best_was_tie: bool = False
    test_at_best_validation: float | None = None
    wall_time_s: float | None = None
    seed: int | None = None
    commits: tuple[str, ...] = ()
    machine: str | None = None
    evals: dict[str, tuple[np.ndarray, np.ndarray]] = dataclasses.field(default_factory=dict)
    train: dict[str, tuple[np.ndarray, np.ndarray]] = dataclasses.field(default_factory=dict)
    retrains: str | None = None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file; NaN/inf written as strings become floats; a torn last line is dropped."""
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        rows.append({k: float(v) if isinstance(v, str) and v in ("nan", "inf", "-inf") else v for k, v in row.items()})
    return rows


def _series(rows: list[dict[str, Any]], prefix: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{key: (steps, values)}`` of every numeric key starting with ``prefix``; the last row per step wins."""
    by_key: dict[str, dict[int, float]] = {}
    for row in rows:
        for key, value in row.items():
            if key.startswith(prefix) and isinstance(value, (int, float)) and not isinstance(value, bool):
                by_key.setdefault(key, {})[int(row["step"])] = float(value)
    return {k: (np.asarray(sorted(v)), np.asarray([v[s] for s in sorted(v)], np.float64)) for k, v in by_key.items()}


def _wall_time(workdir: Path, summary: dict | None) -> float | None:
    if summary is not None:
        return summary.get("wall_time_s")
    checkpoints = workdir / "checkpoints"
    steps = sorted((int(p.name) for p in checkpoints.glob("[0-9]*") if p.name.isdigit()), reverse=True)
    for step in steps:
        try:
            return json.loads((checkpoints / str(step) / "meta" / "metadata").read_text())["wall_time_s"]
        except (OSError, ValueError, KeyError):
            continue  # a checkpoint being written, or unreadable: try the one before
    return None


def read_result(experiment: Experiment, runs_dir: str | Path) -> RunResult:
    """Reads ``runs_dir/<experiment.name>`` into a :class:`RunResult` (``status="missing"`` if absent)."""
    workdir = Path(runs_dir).expanduser() / experiment.name
    if not (workdir / "config.json").exists():
        return RunResult(status="missing")
    config = json.loads((workdir / "config.json").read_text())
    rows = read_jsonl(workdir / "metrics.jsonl")
    summary_path = workdir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    provenance = read_jsonl(workdir / PROVENANCE)
    evals = _series([r for r in rows if "epoch" in r], "")
    evals.pop("epoch", None)
    train = _series([r for r in rows if "epoch" not in r], "train/")
    common = dict(seed=config.get("train", {}).get("seed"), wall_time_s=_wall_time(workdir, summary),
                  commits=tuple(dict.fromkeys(p["commit"] for p in provenance if "commit" in p)),
                  machine=provenance[0].get("machine") if provenance else None, evals=evals, train=train,
                  retrains=next((p[RETRAINS] for p in provenance if RETRAINS in p), None))
    test_key, val_key = f"test/{experiment.metric}", f"validation/{experiment.metric}"
    if test_key not in evals:
        return RunResult(status="started", **common)
    steps, test = evals[test_key]
    epochs = _series([r for r in rows if "epoch" in r], "epoch")["epoch"][1]
    result = dict(status="finished" if summary is not None else "running", step=int(steps[-1]),
                  epoch=int(epochs[-1]), final_test=float(test[-1]))
    if val_key in evals:
        val_steps, val = evals[val_key]
        i = best_evaluation.best_index(val.tolist(), experiment.higher_is_better)  # the trainer's rule
        if i is not None:
            best_step = int(val_steps[i])
            test_at = dict(zip(steps.tolist(), test.tolist())).get(best_step)
            result.update(best_validation=float(val[i]), best_step=best_step, test_at_best_validation=test_at,
                          best_was_tie=best_evaluation.is_tie(val.tolist(), experiment.higher_is_better))
    return RunResult(**result, **common)


def repeated_evaluations(run: RunResult, base: RunResult) -> tuple[int, int, dict[str, float]]:
    """How far ``run`` repeats ``base``'s evaluations: ``(shared, total, diffs)``, the number of
    ``base``'s evaluation steps that ``run`` has evaluated too, the number of ``base``'s evaluation
    steps, and per evaluated scalar (``test/accuracy``, ``firing_rate/neuron0``, ...) the largest
    absolute difference over the shared steps (0.0 where all are equal; inf where exactly one of a
    pair is NaN). Only scalars evaluated at a shared step have an entry."""
    shared: set[int] = set()
    total: set[int] = set()
    diffs: dict[str, float] = {}
    for key, (base_steps, base_values) in base.evals.items():
        total.update(base_steps.tolist())
        ours = dict(zip(*(a.tolist() for a in run.evals[key]))) if key in run.evals else {}
        for step, value in zip(base_steps.tolist(), base_values.tolist()):
            if step not in ours:
                continue
            shared.add(step)
            d = 0.0 if math.isnan(value) and math.isnan(ours[step]) else abs(ours[step] - value)
            diffs[key] = max(diffs.get(key, 0.0), math.inf if math.isnan(d) else d)
    return len(shared), len(total), diffs
