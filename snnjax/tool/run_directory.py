"""The run directory: the one place that spells its file names and reads and writes its files.

A training run (``train.py --workdir W``) owns one directory::

    W/.lock                    one trainer at a time (snnjax.tool.run_lock)
    W/config.json              the config the run trains under
    W/config_history.jsonl     one record per config it was trained under, from which step
    W/metrics.jsonl            train/*, test/*, validation/*, firing_rate/*, leak/* per step
    W/summary.json             written when the run has finished
    W/provenance.jsonl         one record per launch by snnjax.reproduce (commit, command, machine)
    W/checkpoints/<step>/      orbax checkpoints (state and meta), snnjax.tool.checkpointing
    W/tb/                      TensorBoard event files
    W/earlier_run_<n>/         an earlier run's files, set aside when the checkpoints were gone

:class:`RunDirectory` is the only module that spells these names; the trainer, the report, the
export, ``snnjax.reproduce`` and the command-line errors all go through it. Its readers behave the
same for every caller:

- ``metrics.jsonl`` (and the other JSON-lines files) through :func:`snnjax.tool.run_files.read_jsonl`:
  a half-written last line (a run killed while writing it) is dropped with one warning on stderr,
  a damaged line before the last is a :class:`~snnjax.tool.run_files.RunDirError` naming file and line;
  ``"nan"``, ``"inf"`` and ``"-inf"`` (how :class:`~snnjax.tool.metric_writers.JsonlWriter` writes
  non-finite values) are read back as floats.
- ``config.json`` and ``summary.json`` that are not JSON are a ``RunDirError`` naming the file.
- Files are written through :mod:`snnjax.tool.run_files` only: never through a link, atomically.
- Checkpoints through :class:`snnjax.tool.checkpointing.Checkpointer` (orbax's public
  ``CheckpointManager``), never by reading orbax's files.
- The best evaluation by the one rule of :mod:`snnjax.tool.best_evaluation` (:data:`TIE_RULE`: a tie
  goes to the later evaluation; NaN never wins), the rule the trainer's ``summary.json`` follows.

Example::

    run = RunDirectory("runs/smoke")
    config = run.read_config()
    rows = run.read_metrics()
    best = run.best_evaluation("validation", "accuracy", higher_is_better=True)
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snnjax.tool import best_evaluation as best_rule
from snnjax.tool import run_files
from snnjax.tool.run_files import RunDirError

if TYPE_CHECKING:  # imported where used: reading a run's JSON files needs neither jax nor orbax
    import ml_collections

    from snnjax.tool.checkpointing import Checkpointer
    from snnjax.tool.metric_writers import MultiWriter
    from snnjax.tool.run_lock import RunLock

__all__ = ["RunDirectory", "BestEvaluation", "RunDirError", "TIE_RULE"]

TIE_RULE = best_rule.TIE_RULE
# JsonlWriter writes non-finite floats as these strings (strict JSON has no NaN).
_NON_FINITE = ("nan", "inf", "-inf")
_CONFIG_DAMAGED = "restore it from a copy, or delete it (the run's config is then taken from {history})"


@dataclasses.dataclass(frozen=True)
class BestEvaluation:
    """The best evaluation of a run by :mod:`snnjax.tool.best_evaluation`'s rule.

    Attributes:
        step: the step of that evaluation.
        value: its figure (e.g. the validation accuracy).
        was_tie: whether that figure occurred at more than one evaluation (the rule, :data:`TIE_RULE`,
            chose the later one).
        row: the whole ``metrics.jsonl`` record of that evaluation (its other splits' figures).
    """

    step: int
    value: float
    was_tie: bool
    row: dict[str, Any]


class RunDirectory:
    """One training run's directory: its file names, and reading and writing each file.

    Args:
        path: the run directory (``--workdir``); it need not exist yet.
    """

    LOCK = ".lock"
    CONFIG = "config.json"
    CONFIG_HISTORY = "config_history.jsonl"
    METRICS = "metrics.jsonl"
    SUMMARY = "summary.json"
    PROVENANCE = "provenance.jsonl"
    CHECKPOINTS = "checkpoints"
    TENSORBOARD = "tb"
    EARLIER_RUN = "earlier_run_{n}"
    # The files a run owns (besides the tb/ and checkpoints/ folders): never written through a link.
    OWNED_FILES = (LOCK, CONFIG, CONFIG_HISTORY, METRICS, SUMMARY)
    # What snnjax.reproduce copies into a results folder: the small files a table is read from.
    ARTIFACTS = (CONFIG, SUMMARY, METRICS, PROVENANCE)

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    # ------------------------------------------------------------------ paths

    @property
    def lock_path(self) -> Path:
        return self.path / self.LOCK

    @property
    def config_path(self) -> Path:
        return self.path / self.CONFIG

    @property
    def history_path(self) -> Path:
        return self.path / self.CONFIG_HISTORY

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    @property
    def summary_path(self) -> Path:
        return self.path / self.SUMMARY

    @property
    def provenance_path(self) -> Path:
        return self.path / self.PROVENANCE

    @property
    def checkpoints_path(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def tensorboard_path(self) -> Path:
        return self.path / self.TENSORBOARD

    def checkpoint_path(self, step: int) -> Path:
        """Where checkpoint ``step`` lives (``checkpoints/<step>``); for messages and the summary."""
        return self.checkpoints_path / str(int(step))

    # ------------------------------------------------------------------ safety

    def check_owned_files(self) -> None:
        """Refuses the run when one of :data:`OWNED_FILES` is a symbolic or hard link.

        Raises:
            RunDirError: naming the first such file; nothing has been written.
        """
        run_files.check_owned_files(self.path / name for name in self.OWNED_FILES)

    def lock(self) -> RunLock:
        """The lock of this directory (``.lock``), not yet acquired: ``with run.lock(): ...``."""
        from snnjax.tool.run_lock import RunLock

        return RunLock(self.path)

    def set_aside_earlier_run(self) -> Path | None:
        """Moves an earlier run's files (config, history, metrics, summary, ``tb/``) into
        ``earlier_run_<n>/`` (the first free ``n``), nothing deleted; for a run directory without a
        checkpoint to resume. Returns that folder, or ``None`` when there was nothing to move."""
        names = (*[n for n in self.OWNED_FILES if n != self.LOCK], self.TENSORBOARD)
        found = [self.path / name for name in names if (self.path / name).exists()]
        if not found:
            return None
        n = 1
        while (self.path / self.EARLIER_RUN.format(n=n)).exists():
            n += 1
        aside = self.path / self.EARLIER_RUN.format(n=n)
        aside.mkdir()
        for path in found:
            os.replace(path, aside / path.name)
        return aside

    # ------------------------------------------------------------------ config.json and its history

    def has_config(self) -> bool:
        """Whether ``config.json`` exists (a run directory that ``train.py`` has started)."""
        return self.config_path.is_file()

    def read_config(self) -> dict[str, Any]:
        """The parsed ``config.json``.

        Raises:
            FileNotFoundError: there is no ``config.json`` (not a run directory, or not yet).
            RunDirError: it is not valid JSON (one line naming it and what to do).
        """
        if not self.config_path.exists():
            raise FileNotFoundError(f"{self.config_path} not found: is {self.path} a run directory written by "
                                    "train.py?")
        return run_files.read_json(self.config_path, _CONFIG_DAMAGED.format(history=self.CONFIG_HISTORY))

    def write_config(self, config: ml_collections.ConfigDict) -> None:
        """Writes ``config`` as ``config.json`` (atomically, never through a link)."""
        run_files.write_owned(self.config_path, config.to_json_best_effort(indent=2) + "\n")

    def read_config_history(self) -> list[dict[str, Any]]:
        """The records of ``config_history.jsonl``, oldest first (``[]`` without the file); each
        ``{"from_step", "time", "changes", "config"}``. A torn last line is dropped with a warning."""
        return run_files.read_jsonl(self.history_path)

    def append_config_history(self, step: int, config: ml_collections.ConfigDict, changes: list[str]) -> None:
        """Appends a record: from ``step`` on the run trains under ``config`` (``changes``: what
        differs from the config before)."""
        from snnjax.tool.config_diff import append_config_history

        append_config_history(self.history_path, step, config, changes)  # never through a link

    def config_at(self, step: int) -> dict[str, Any] | None:
        """The config the run trained under at ``step``, from the history: the last record that
        starts at or before ``step`` (``None`` when there is none)."""
        records = [r for r in self.read_config_history() if int(r.get("from_step", 0)) <= step and "config" in r]
        return records[-1]["config"] if records else None

    # ------------------------------------------------------------------ metrics.jsonl

    def has_metrics(self) -> bool:
        return self.metrics_path.is_file()

    def read_metrics(self) -> list[dict[str, Any]]:
        """The records of ``metrics.jsonl`` (``[]`` without the file), each with ``step`` and some
        scalars; the one reader every tool uses.

        A half-written last line is dropped with a warning on stderr; ``"nan"``/``"inf"``/``"-inf"``
        strings become floats.

        Raises:
            RunDirError: a line before the last is not valid JSON (naming file and line).
        """
        return [{k: float(v) if isinstance(v, str) and v in _NON_FINITE else v for k, v in record.items()}
                for record in run_files.read_jsonl(self.metrics_path)]

    def append_metrics(self, step: int, scalars: dict[str, Any]) -> None:
        """Appends one record ``{"step": step, **scalars}`` to ``metrics.jsonl`` (as the trainer's
        writer does; non-finite floats as strings)."""
        from snnjax.tool.metric_writers import JsonlWriter

        with JsonlWriter(self.metrics_path) as writer:
            writer.write(step, scalars)

    def metric_writer(self) -> MultiWriter:
        """The trainer's writer: ``metrics.jsonl`` and TensorBoard in ``tb/``, appending."""
        from snnjax.tool.metric_writers import JsonlWriter, MultiWriter, TensorBoardWriter

        return MultiWriter([JsonlWriter(self.metrics_path), TensorBoardWriter(self.tensorboard_path)])

    def truncate_metrics(self, step: int) -> None:
        """Drops the records after ``step`` from ``metrics.jsonl`` (a killed run may have logged
        steps after its last checkpoint; the resumed run logs them again), and a half-written last
        line with a warning. The file is replaced whole, never written through a link."""
        run_files.keep_jsonl(self.metrics_path, lambda record: record.get("step", 0) <= step)

    def has_eval_record(self, step: int) -> bool:
        """Whether ``metrics.jsonl`` holds the evaluation (``test/*``) of ``step``."""
        return any(r.get("step") == step and any(k.startswith("test/") for k in r) for r in self.read_metrics())

    def best_evaluation(self, split: str, metric: str, higher_is_better: bool,
                        rows: list[dict[str, Any]] | None = None) -> BestEvaluation | None:
        """The best evaluation of ``split``'s ``metric`` (e.g. ``"validation"``, ``"accuracy"``) by
        :mod:`snnjax.tool.best_evaluation` (:data:`TIE_RULE`; NaN never wins), or ``None`` when no
        evaluation has a figure that is not NaN.

        ``rows``: records already read by :meth:`read_metrics` (else the file is read). Where a step
        was evaluated twice (a resumed run), the last record of that step counts.
        """
        key = f"{split}/{metric}"
        by_step: dict[int, dict[str, Any]] = {}
        for row in self.read_metrics() if rows is None else rows:
            if isinstance(row.get(key), (int, float)) and not isinstance(row.get(key), bool):
                by_step[int(row["step"])] = row
        ordered = [by_step[s] for s in sorted(by_step)]
        values = [float(r[key]) for r in ordered]
        i = best_rule.best_index(values, higher_is_better)
        if i is None:
            return None
        return BestEvaluation(step=int(ordered[i]["step"]), value=values[i],
                              was_tie=best_rule.is_tie(values, higher_is_better), row=ordered[i])

    # ------------------------------------------------------------------ summary.json

    def has_summary(self) -> bool:
        """Whether ``summary.json`` exists (the run has finished)."""
        return self.summary_path.is_file()

    def read_summary(self) -> dict[str, Any] | None:
        """The parsed ``summary.json``, or ``None`` while the run has not finished.

        Raises:
            RunDirError: it is not valid JSON (naming it).
        """
        if not self.summary_path.exists():
            return None
        return run_files.read_json(self.summary_path, "delete it: resuming the run with train.py writes it again")

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Writes ``summary.json`` (atomically, never through a link)."""
        run_files.write_owned(self.summary_path, json.dumps(summary, indent=2) + "\n")

    def remove_summary(self) -> None:
        """Deletes ``summary.json``: a summary must never stand beside a run that then fails."""
        self.summary_path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ provenance.jsonl

    def read_provenance(self) -> list[dict[str, Any]]:
        """The launch records of ``provenance.jsonl``, oldest first (``[]`` without the file); a
        torn last line is dropped with a warning."""
        return run_files.read_jsonl(self.provenance_path)

    def append_provenance(self, record: dict[str, Any]) -> None:
        """Appends one launch record to ``provenance.jsonl`` (creating the directory), never
        through a link."""
        self.path.mkdir(parents=True, exist_ok=True)
        with run_files.append_owned(self.provenance_path) as f:
            f.write(json.dumps(record) + "\n")

    # ------------------------------------------------------------------ checkpoints (orbax)

    def checkpointer(self, **kwargs: Any) -> Checkpointer:
        """A :class:`snnjax.tool.checkpointing.Checkpointer` on ``checkpoints/`` (``kwargs`` are its
        options: ``max_to_keep``, ``best_metric``, ``best_mode``, ``read_only``)."""
        from snnjax.tool.checkpointing import Checkpointer

        return Checkpointer(self.checkpoints_path, **kwargs)

    def checkpoint_steps(self) -> list[int]:
        """The finalised checkpoint steps, ascending, as orbax lists them (``[]`` without
        ``checkpoints/``; a half-written save or a ``<step>.unreadable`` folder is no step)."""
        if not self.checkpoints_path.is_dir():
            return []
        with self.checkpointer(read_only=True) as ckpt:
            return ckpt.all_steps()

    def latest_checkpoint_step(self) -> int | None:
        """The newest finalised checkpoint step, or ``None``."""
        steps = self.checkpoint_steps()
        return steps[-1] if steps else None

    def checkpoint_meta(self, step: int | None = None) -> dict[str, Any] | None:
        """The meta record saved with checkpoint ``step`` (epoch, best figures, ``wall_time_s``...),
        restored through orbax; ``step=None``: the newest checkpoint whose meta is readable.
        ``None`` when there is none."""
        if not self.checkpoints_path.is_dir():
            return None
        with self.checkpointer(read_only=True) as ckpt:
            return ckpt.read_meta(step)
