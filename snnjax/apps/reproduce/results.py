"""A run directory read back into the numbers of a results table, finished or still running.

Everything comes from the files ``train.py`` writes, read through
:class:`snnjax.tool.run_directory.RunDirectory`: the evaluations in the metrics (rows with an ``epoch``
key hold ``test/*`` and ``validation/*``), the summary once the run has finished, the newest
checkpoint's meta record (wall time so far, restored through orbax) while it runs, and the
provenance (written by :mod:`snnjax.reproduce` at each launch: commit, command, machine).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from snnjax.apps.reproduce.plans import Experiment
from snnjax.tool.run_directory import RunDirectory

PROVENANCE = RunDirectory.PROVENANCE
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
            :mod:`snnjax.tool.best_evaluation`, the trainer's rule).
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


def _series(rows: list[dict[str, Any]], prefix: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{key: (steps, values)}`` of every numeric key starting with ``prefix``; the last row per step wins."""
    by_key: dict[str, dict[int, float]] = {}
    for row in rows:
        for key, value in row.items():
            if key.startswith(prefix) and isinstance(value, (int, float)) and not isinstance(value, bool):
                by_key.setdefault(key, {})[int(row["step"])] = float(value)
    return {k: (np.asarray(sorted(v)), np.asarray([v[s] for s in sorted(v)], np.float64)) for k, v in by_key.items()}


def _wall_time(run_dir: RunDirectory, summary: dict | None) -> float | None:
    """Training wall time: the summary's, else the newest checkpoint's meta record (a run in progress)."""
    if summary is not None:
        return summary.get("wall_time_s")
    meta = run_dir.checkpoint_meta()  # the newest whose meta is readable
    return None if meta is None else meta.get("wall_time_s")


def read_result(experiment: Experiment, runs_dir: str | Path) -> RunResult:
    """Reads ``runs_dir/<experiment.name>`` into a :class:`RunResult` (``status="missing"`` if absent)."""
    run_dir = RunDirectory(Path(runs_dir).expanduser() / experiment.name)
    if not run_dir.config_path.exists():
        return RunResult(status="missing")
    config = run_dir.read_config()
    rows = run_dir.read_metrics()
    summary = run_dir.read_summary()
    provenance = run_dir.read_provenance()
    evals = _series([r for r in rows if "epoch" in r], "")
    evals.pop("epoch", None)
    train = _series([r for r in rows if "epoch" not in r], "train/")
    common = dict(seed=config.get("train", {}).get("seed"), wall_time_s=_wall_time(run_dir, summary),
                  commits=tuple(dict.fromkeys(p["commit"] for p in provenance if "commit" in p)),
                  machine=provenance[0].get("machine") if provenance else None, evals=evals, train=train,
                  retrains=next((p[RETRAINS] for p in provenance if RETRAINS in p), None))
    test_key = f"test/{experiment.metric}"
    if test_key not in evals:
        return RunResult(status="started", **common)
    steps, test = evals[test_key]
    epochs = _series([r for r in rows if "epoch" in r], "epoch")["epoch"][1]
    result = dict(status="finished" if summary is not None else "running", step=int(steps[-1]),
                  epoch=int(epochs[-1]), final_test=float(test[-1]))
    # the trainer's rule (snnjax.tool.best_evaluation, through the run directory): a tie goes to the later evaluation
    best = run_dir.best_evaluation("validation", experiment.metric, experiment.higher_is_better,
                                   rows=[r for r in rows if "epoch" in r])
    if best is not None:
        test_at = dict(zip(steps.tolist(), test.tolist())).get(best.step)
        result.update(best_validation=best.value, best_step=best.step, test_at_best_validation=test_at,
                      best_was_tie=best.was_tie)
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
