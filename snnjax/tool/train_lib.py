"""The training loop: ``train_and_evaluate(config, workdir) -> summary``.

One run, start to end or resumed from ``workdir``::

    validate config → load data → build model → (restore checkpoint) →
      per epoch: permute indices from (seed, epoch) → jitted train steps → eval → checkpoint
    → summary.json (accuracy, firing rates, energy estimate, throughput)

The loop only orchestrates (:class:`_Loop`: the stepper's calls, then the periodic actions: log,
checkpoint, stop on a signal after each call; leaks, evaluation, checkpoint at each epoch's end);
its pieces live in their own modules:

- :mod:`snnjax.tool.train_steps`: the pure train and eval steps, the train state, jitting over a mesh;
- :mod:`snnjax.tool.input_pipeline`: batch order, the run's length, the host data path and the mesh;
- :mod:`snnjax.tool.steppers`: the host loop and the device loop behind one interface (train calls,
  evaluation);
- :mod:`snnjax.tool.evaluation`: evaluation over a whole split;
- :mod:`snnjax.tool.run_summary`: ``summary.json``, energy estimate and messages;
- :mod:`snnjax.tool.config_diff`: what a resumed run may change;
- :mod:`snnjax.tool.run_directory`: the run directory's files (the one place that names them), never
  written through a link, read the same way by every tool when damaged;
- :mod:`snnjax.tool.preemption`: SIGTERM / SIGINT recorded, to stop after a checkpoint.

Determinism and resumption. Everything a step consumes is a function of the step number (batch
order from ``(seed, epoch)``, augmentation seeded by the epoch, dropout/encoder keys
``fold_in(key, step)``), so a run restored from a checkpoint of step ``s`` continues exactly as the
uninterrupted run would have.

Data parallelism. The global batch is sharded over every device on a 1-D mesh axis ``data`` and the
train state is replicated; ``jax.jit`` with these shardings lets GSPMD insert the gradient all-reduce,
and BatchNorm statistics (a mean over the batch axis) come out over the global batch.

Safety. A step whose loss, gradients or new parameters are not finite is not applied (the state
stays the last good one) and the loop stops at the next metrics check with a
:class:`NonFiniteLossError`; checkpoints are written only from finite states, so the last good one
is kept.

Stopping. On SIGTERM or SIGINT (preemption, ``scancel``, Ctrl-C) the step or device-loop call in
flight finishes, a checkpoint of it is saved, the metrics are written and
:class:`~snnjax.tool.preemption.RunInterrupted` says so ("interrupted at step N, checkpoint saved; rerun
the same command to resume"); a second signal ends the process at once. An epoch's end is
evaluated and saved before the run stops; a signal during the last epoch's end lets the run finish.

Files written to ``workdir``: ``config.json``, ``config_history.jsonl``, ``metrics.jsonl``, ``tb/``
(TensorBoard), ``checkpoints/<step>/``, ``summary.json``. A run directory where one of the files is a
symbolic or hard link, or that cannot be written, is refused before training; one without a
checkpoint but with an earlier run's files has them moved to ``earlier_run_<n>/`` (nothing deleted).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh
from tqdm.auto import tqdm

from snnjax.tool import checkpointing
from snnjax.tool import metric_writers
from snnjax.tool import optim
from snnjax.tool import run_files
from snnjax.tool import validate
from snnjax.io import data as data_lib
from snnjax.tool.best_evaluation import improves
from snnjax.tool.config_diff import RESUMABLE_KEYS, check_resumed_config, config_changes
from snnjax.tool.device_loop import LOOPS, choose_loop, device_budget, split_nbytes, unstack
from snnjax.tool.evaluation import EvalResult
from snnjax.tool.input_pipeline import RunLength, epoch_permutation, make_mesh, run_length
from snnjax.tool.preemption import RunInterrupted, StopRequest
from snnjax.tool.run_directory import RunDirectory
from snnjax.tool.run_summary import build_summary, count_params, format_eval, leak_values, progress_postfix
from snnjax.tool.steppers import DeviceStepper, HostStepper, Stepper
from snnjax.tool.train_steps import (NonFiniteLossError, TrainState, create_train_state, guarded_names, init_state,
                                make_eval_step, make_train_step)

__all__ = ["train_and_evaluate", "NonFiniteLossError", "RunInterrupted", "TrainState", "RESUMABLE_KEYS",
           "check_resumed_config", "truncate_metrics"]


Metrics = dict[str, float]
# Keys of the step metrics that are flags of the NaN guard, not quantities to average.
_GUARD_KEYS = ("finite", "nonfinite_leaf", "nonfinite_value")


def truncate_metrics(path: Path, step: int) -> None:
    """Drops the records after ``step`` from the JSON-lines metrics file at ``path`` (and a
    half-written last line, with a warning); the run's own file is
    :meth:`RunDirectory.truncate_metrics`. The file is replaced whole, never written through a link."""
    run_files.keep_jsonl(path, lambda record: record.get("step", 0) <= step)


# --------------------------------------------------------------------------- the loop


class _TrainMetrics:
    """Train metrics of the steps since the last check: fetched together (one sync), checked for
    non-finite steps, averaged and written.

    The host stepper adds one step's metrics at a time, the device stepper a call's stacked
    metrics (:meth:`add`); both flush the same per-step rows.
    """

    def __init__(self, writer, length: RunLength, batch_size: int, guarded: list[str]):
        self.writer, self.length, self.batch_size, self.guarded = writer, length, batch_size, guarded
        self.pending: list[tuple[int, int, dict, bool]] = []
        self.last_time, self.last_step = time.time(), None

    def add(self, first_step: int, num_steps: int, metrics: dict, stacked: bool) -> None:
        """The metrics of ``num_steps`` steps from ``first_step``: stacked ``[num_steps]`` (a device
        loop call) or one step's (``stacked=False``, ``num_steps=1``)."""
        self.pending.append((first_step, num_steps, metrics, stacked))

    def restart_clock(self, steps_done: int) -> None:
        """Throughput counts from now: leaves compilation and evaluation out of samples/s."""
        self.last_time, self.last_step = time.time(), steps_done - 1

    def _rows(self) -> list[tuple[int, dict]]:
        host = jax.device_get([m for _, _, m, _ in self.pending])
        rows = []
        for (first, n, _, stacked), m in zip(self.pending, host):
            rows += [(first + i, r) for i, r in enumerate(unstack(m, n))] if stacked else [(first, m)]
        self.pending = []
        return rows

    def flush(self, last_checkpoint: int | None, checkpoint_dir: str) -> Metrics | None:
        if not self.pending:
            return None
        rows = self._rows()
        for step, m in rows:
            if not bool(m["finite"]):
                raise NonFiniteLossError(self._message(step, m, last_checkpoint, checkpoint_dir))
        steps, host = [s for s, _ in rows], [m for _, m in rows]
        now = time.time()
        mean = {f"train/{k}": float(np.mean([float(m[k]) for m in host])) for k in host[0] if k not in _GUARD_KEYS}
        if self.last_step is not None:
            mean["train/samples_per_s"] = (steps[-1] - self.last_step) * self.batch_size / max(now - self.last_time, 1e-9)
        self.last_time, self.last_step = now, steps[-1]
        self.writer.write(steps[-1] + 1, mean)
        return mean

    def _message(self, step: int, m: dict, last_checkpoint: int | None, checkpoint_dir: str) -> str:
        epoch = step // self.length.steps_per_epoch
        name = self.guarded[int(m["nonfinite_leaf"])]
        kept = (f"the last good checkpoint is step {last_checkpoint} in {checkpoint_dir}; rerunning the "
                "same command resumes from it" if last_checkpoint is not None else "no checkpoint was written yet")
        return (f"training stopped: non-finite {name} ({float(m['nonfinite_value'])}) at step {step + 1} "
                f"(epoch {epoch}; loss={float(m['loss']):.6g}, grad_norm={float(m['grad_norm']):.6g}); that "
                f"state was not saved and {kept}. Try a lower learning rate (--config.optim.learning_rate), "
                "gradient clipping (--config.optim.grad_clip_norm=1.0), or check the data for NaN/inf.")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
                       devices: Iterable[jax.Device] | None = None, allow_config_change: bool = False,
                       progress: bool = True) -> dict:
    """Trains ``config`` in ``workdir`` (resuming from its latest checkpoint) and evaluates it.

    A finished run (its latest checkpoint at the config's last step, ``summary.json`` written) is
    not trained or evaluated again: its summary is returned, and nothing is written.

    Args:
        config: a full config (``snnjax.tool.config.base_config`` and an experiment's changes).
        workdir: where checkpoints, metrics and the summary go; an existing run there is resumed.
        devices: devices to train on (default: all); the global batch is split over them.
        allow_config_change: resume even if the saved config differs in more than length/cadence.
        progress: show tqdm progress bars.

    Returns:
        The summary (also written to ``workdir/summary.json``).

    Raises:
        validate.ConfigError: a bad config (before anything is compiled), or
            ``run_lock.RunLockedError``: another trainer holds ``workdir``.
        snnjax.data.DataNotFoundError: the dataset's files are missing.
        NonFiniteLossError: the loss, the gradients or the state became NaN/inf.
    """
    start_time = time.time()
    workdir = Path(workdir)
    mesh = make_mesh(devices)
    chief = jax.process_index() == 0
    tc = config.train

    # Everything that can be wrong with the config fails here, before any compile.
    validate.check_config(config, mesh.size)  # train.loop and steps_per_call among the rest
    dataset = data_lib.load(config.data)
    model = validate.check_with_data(config, dataset)
    length = run_length(tc, dataset.train.num_examples)
    try:
        tx, schedule = optim.make_optimizer(config.optim, length.steps_per_epoch,
                                            length.total_steps / length.steps_per_epoch)
    except ValueError as error:
        raise validate.ConfigError(f"optim: {error}") from error
    try:  # traces the model once without compiling: shape errors surface here, cheaply
        abstract = jax.eval_shape(lambda x: init_state(model, tx, x, jax.random.PRNGKey(0)),
                                  jax.ShapeDtypeStruct((1, *dataset.input_shape), jnp.float32))
    except (ValueError, TypeError) as error:
        raise validate.ConfigError(
            f"the model does not run on {dataset.name!r} examples of shape {dataset.input_shape}: {error}") from error
    if workdir.exists() and not workdir.is_dir():
        raise validate.ConfigError(f"--workdir {workdir} is a file, not a directory: give a directory path")
    run_dir = RunDirectory(workdir)
    lock = run_dir.lock() if chief else None
    if chief:
        run_dir.check_owned_files()  # no link is written through
        try:
            workdir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise run_files.RunDirError(f"cannot create --workdir {workdir} ({error.strerror or error}): choose a "
                                        "directory you can write to") from error
        run_files.check_writable(workdir)
        lock.acquire()
    try:
        with StopRequest() as stop:
            return _train(config, workdir, mesh, chief, dataset, model, length, tx, schedule, abstract,
                          allow_config_change, progress, start_time, stop)
    finally:
        if lock is not None:
            lock.release()


class _Throughput:
    """Training time and steps timed (compilation and evaluation left out), over every stretch of
    the run: a resumed run continues the count it finds in its checkpoint's meta."""

    def __init__(self, seconds: float = 0.0, steps: int = 0):
        self.seconds, self.steps = seconds, steps
        self.since: float | None = None  # start of the stretch being timed
        self.since_step = 0

    @property
    def running(self) -> bool:
        return self.since is not None

    def start(self, step: int) -> None:
        self.since, self.since_step = time.time(), step

    def totals(self, step: int) -> tuple[float, int]:
        """``(seconds, steps)`` including the stretch being timed, up to ``step``."""
        if self.since is None:
            return self.seconds, self.steps
        return self.seconds + time.time() - self.since, self.steps + step - self.since_step

    def stop(self, step: int) -> None:
        self.seconds, self.steps = self.totals(step)
        self.since = None

    def samples_per_s(self, batch_size: int) -> float | None:
        return self.steps * batch_size / self.seconds if self.seconds else None


def _saved_config(run_dir: RunDirectory, step: int, allow_change: bool) -> tuple[dict | None, list[str]]:
    """The config the checkpoints of ``run_dir`` were trained under (to step ``step``), and notes.

    From ``config.json``; when it is missing, from the config history (said in a note). With
    neither, the run is refused unless ``allow_change`` (then ``None``: nothing to compare with).

    Raises:
        run_files.RunDirError: ``config.json`` is not valid JSON, or no config is found.
    """
    config_path, history_path = run_dir.config_path, run_dir.history_path
    if config_path.exists():
        return run_dir.read_config(), []
    saved = run_dir.config_at(step)
    if saved is not None:
        return saved, [f"note: {config_path} is missing; the config of the checkpoints is taken from {history_path}"]
    if allow_change:
        return None, [f"warning: {config_path} and {history_path} are missing: the checkpoints' config is unknown, "
                      "resuming under this config as --allow_config_change asks"]
    raise run_files.RunDirError(
        f"{run_dir.path} holds checkpoints but no {run_dir.CONFIG} (nor {run_dir.CONFIG_HISTORY}): the config that "
        f"trained them is unknown; put {run_dir.CONFIG} back, or pass --allow_config_change to resume them under "
        "this config")


def _finished_summary(run_dir: RunDirectory) -> dict | None:
    """The summary of a finished run, or ``None`` (missing, or not valid JSON: said, then rewritten)."""
    try:
        return run_dir.read_summary()
    except run_files.RunDirError:
        print(f"warning: {run_dir.summary_path} is not valid JSON: the run is evaluated again and it is rewritten",
              file=sys.stderr)
        return None


def _stop_agreed(stop: StopRequest) -> bool:
    """Whether any process received a stop signal (all processes must stop at the same step)."""
    if jax.process_count() == 1:
        return stop.requested
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.int32(stop.requested))))


@dataclasses.dataclass
class _Run:
    """What stays fixed while a run trains: its config, data, files and the objects that write them."""

    config: ml_collections.ConfigDict
    workdir: Path
    mesh: Mesh
    chief: bool
    dataset: data_lib.Dataset
    length: RunLength
    ckpt: checkpointing.Checkpointer
    writer: metric_writers.MetricWriter
    stepper: Stepper
    stop: StopRequest
    progress: bool
    start_time: float
    num_params: int
    meta: dict[str, Any]  # the restored checkpoint's (empty for a new run)

    @property
    def regression(self) -> bool:
        return self.dataset.task == "regression"

    @property
    def key_metric(self) -> str:
        return "mse" if self.regression else "accuracy"

    @property
    def best_split(self) -> str:
        """The split whose figure picks the best checkpoint: validation when there is one, else test."""
        return "validation" if self.dataset.validation is not None else "test"

    @property
    def best_name(self) -> str:
        return f"{self.best_split}_{self.key_metric}"


COMPILING = "compiling the train step…"  # the progress bar's description until the first call returns


class _Loop:
    """The epochs of a run, from its restored step to its end: the stepper's calls, then the
    periodic actions after each call (log, checkpoint, stop on a signal) and at each epoch's end
    (leaks, evaluation, checkpoint). The loop's state (train state, step, last checkpoint, best
    figures, clock) lives here, changed only by these methods."""

    def __init__(self, run: _Run, state: TrainState):
        self.run, self.state, self.step = run, state, int(state.step)
        tc = run.config.train
        self.log_every, self.checkpoint_every = int(tc.log_every_steps), int(tc.checkpoint_every_steps)
        self.last_checkpoint = run.ckpt.latest_step()
        self.best: dict[str, float] = dict(run.meta.get("best", {}))
        self.clock = _Throughput(float(run.meta.get("train_seconds", 0.0)), int(run.meta.get("train_steps_timed", 0)))
        self.train_metrics = _TrainMetrics(run.writer, run.length, int(tc.batch_size), guarded_names(state))
        self.final: dict[str, EvalResult] = {}
        self.bar: tqdm | None = None
        self.compiling = True  # until the first call returns: the bar says so, not an ETA that counts compilation

    # ------------------------------------------------------------------ the epochs

    def train(self) -> dict:
        """Trains the remaining epochs, evaluates, and returns the summary (without writing it)."""
        length = self.run.length
        # A run restored at its last step (e.g. killed before its summary) trains no epoch again.
        first_epoch = self.step // length.steps_per_epoch if self.step < length.total_steps else length.num_epochs
        for epoch in range(first_epoch, length.num_epochs):
            self._train_epoch(epoch)
            self._end_epoch(epoch)
        if not self.final:  # resumed at the very end: evaluate what was restored (logged once only)
            logged = RunDirectory(self.run.workdir).has_eval_record(self.step)
            self.final = self._evaluate(length.num_epochs - 1, write=not logged)
        self.run.ckpt.wait()
        return self._summary(self.run.ckpt.best_step())

    def _train_epoch(self, epoch: int) -> None:
        run, length = self.run, self.run.length
        n_steps = length.steps_in_epoch(epoch)
        i = self.step - epoch * length.steps_per_epoch
        epoch_end = epoch * length.steps_per_epoch + n_steps
        permutation = epoch_permutation(int(run.config.train.seed), epoch, run.dataset.train.num_examples)
        desc = f"epoch {epoch + 1}/{length.num_epochs}"
        self.bar = tqdm(total=n_steps, initial=i, desc=f"{desc}: {COMPILING}" if self.compiling else desc,
                        disable=not (run.chief and run.progress), file=sys.stderr, dynamic_ncols=True, leave=False)
        run.stepper.start_epoch(epoch, permutation, i, n_steps, prepare_next=epoch + 1 < length.num_epochs)
        while i < n_steps:
            self.state, n, metrics = run.stepper.call(self.state, self.step, i, timed=self.clock.running)
            self.train_metrics.add(self.step, n, metrics, stacked=run.stepper.stacked)
            self.step, i = self.step + n, i + n
            self._after_call(epoch, n, metrics, at_epoch_end=self.step == epoch_end)
        run.stepper.end_epoch()
        self.train_metrics.flush(self.last_checkpoint, run.ckpt.directory)
        jax.block_until_ready(self.state)
        self.clock.stop(self.step)
        self.bar.close()
        self.bar = None

    def _after_call(self, epoch: int, n: int, metrics: Any, at_epoch_end: bool) -> None:
        """The periodic actions after ``n`` steps ran: clock, progress, log, checkpoint, stop signal."""
        if self.compiling:  # the first call compiled: the bar's clock restarts now, so its rate and ETA leave it out
            self.compiling = False
            self.bar.unpause()
            self.bar.set_description(f"epoch {epoch + 1}/{self.run.length.num_epochs}")
        self.bar.update(n)
        if not self.clock.running:  # time from the end of the first call: leaves compilation out
            jax.block_until_ready(metrics)
            self.clock.start(self.step)
            self.train_metrics.restart_clock(self.step)
        if self.step % self.log_every == 0:
            mean = self.train_metrics.flush(self.last_checkpoint, self.run.ckpt.directory)
            self.bar.set_postfix(progress_postfix(mean), refresh=False)
        if at_epoch_end:
            return  # the epoch's end saves after its evaluation, whose figure its checkpoint then holds
        if self.checkpoint_every and self.step % self.checkpoint_every == 0:
            self._save(epoch)
        if _stop_agreed(self.run.stop):
            self._interrupt(epoch)

    def _end_epoch(self, epoch: int) -> None:
        """The actions at an epoch's end: leaks, evaluation when due, checkpoint, stop signal."""
        run, length = self.run, self.run.length
        # k_tau(a) per epoch, for plots of the leaks over training
        leaks = leak_values(self.state.params, decay_input=bool(run.config.model.neuron.decay_input))
        if leaks:
            run.writer.write(self.step, {"epoch": epoch + 1, **leaks})
        evaluated = None
        if (epoch + 1) % int(run.config.train.eval_every_epochs) == 0 or self.step == length.total_steps:
            self.final = self._evaluate(epoch)
            evaluated = {run.best_name: self.final[run.best_split].metrics[run.key_metric]}
        self._save(epoch, evaluated)
        if epoch + 1 < length.num_epochs and _stop_agreed(run.stop):
            self._interrupt(epoch)

    # ------------------------------------------------------------------ actions

    def _save(self, epoch: int, metrics: Metrics | None = None) -> None:
        """Checkpoints the state of ``step`` (``metrics``: its evaluation's figure, competing for best)."""
        ckpt, step = self.run.ckpt, self.step
        self.train_metrics.flush(self.last_checkpoint, ckpt.directory)  # raises before a bad state is saved
        if step == self.last_checkpoint:
            return
        if not checkpointing.is_finite_tree(self.state):  # every step was checked: a bug if it happens
            raise NonFiniteLossError(f"the state of step {step} holds NaN/inf although every step's check passed; "
                                     f"it was not saved (last good checkpoint: step {self.last_checkpoint})")
        train_seconds, train_steps_timed = self.clock.totals(step)
        meta = {"step": step, "epoch": epoch, "best": self.best,
                "wall_time_s": self.run.meta.get("wall_time_s", 0.0) + time.time() - self.run.start_time,
                "train_seconds": train_seconds, "train_steps_timed": train_steps_timed}
        if not ckpt.save(step, self.state, meta, metrics=metrics):
            raise RuntimeError(f"the checkpoint of step {step} was not written: {ckpt.directory} already holds "
                               f"step {ckpt.latest_step()}; use a new --workdir")
        self.last_checkpoint = step

    def _interrupt(self, epoch: int) -> None:
        """Saves the state of ``step`` and its metrics, then stops the run (a stop signal came)."""
        if self.bar is not None:
            self.bar.close()
        self._save(epoch)
        self.run.ckpt.wait()
        self.run.writer.flush()
        saved = "checkpoint saved" if self.last_checkpoint == self.step else "nothing trained to save"
        raise RunInterrupted(f"interrupted at step {self.step} ({self.run.stop.describe()}), {saved}; rerun the same "
                             "command to resume")

    def _evaluate(self, epoch: int, write: bool = True) -> dict[str, EvalResult]:
        """Evaluates test (and validation), updates the best figures (snnjax.tool.best_evaluation), logs."""
        run, key = self.run, self.run.key_metric
        results = {"test": run.stepper.evaluate(self.state, "test")}
        if run.dataset.validation is not None:
            results["validation"] = run.stepper.evaluate(self.state, "validation")
        scalars: dict[str, float] = {"epoch": epoch + 1}
        for split, r in results.items():
            scalars.update({f"{split}/{k}": v for k, v in r.metrics.items()})
            if improves(r.metrics[key], self.best.get(f"best_{split}_{key}"), higher_is_better=not run.regression):
                self.best[f"best_{split}_{key}"] = r.metrics[key]
                if split == "validation":
                    self.best[f"test_{key}_at_best_validation"] = results["test"].metrics[key]
        scalars.update({f"firing_rate/{k}": v for k, v in results["test"].firing_rates.items()})
        if write:
            run.writer.write(self.step, scalars)
        if run.chief:
            line = " | ".join(format_eval(s, r.metrics) for s, r in results.items())
            tqdm.write(f"epoch {epoch + 1}/{run.length.num_epochs} step {self.step}: {line}", file=sys.stderr)
        return results

    def _summary(self, best_step: int | None) -> dict:
        run = self.run
        summary = build_summary(run.config, self.final, self.best, run.regression, run.num_params, run.mesh, self.step,
                                run.length, wall_time=run.meta.get("wall_time_s", 0.0) + time.time() - run.start_time,
                                samples_per_s=self.clock.samples_per_s(int(run.config.train.batch_size)))
        best_path = None if best_step is None else str(RunDirectory(run.workdir).checkpoint_path(best_step))
        summary["best_checkpoint"] = {"step": best_step, "metric": run.best_name, "path": best_path}
        summary["loop"] = {"kind": run.stepper.kind, "steps_per_call": run.stepper.steps_per_call}
        return summary


def _make_stepper(config: ml_collections.ConfigDict, dataset: data_lib.Dataset, mesh: Mesh, model, tx, schedule,
                  train_key: jax.Array, eval_key: jax.Array) -> tuple[Stepper, str]:
    """The host or the device stepper, as ``train.loop`` and the data's size decide, and why."""
    tc = config.train
    splits = {"train": dataset.train, "test": dataset.test}
    if dataset.validation is not None:
        splits["validation"] = dataset.validation
    nbytes = sum(split_nbytes(s, dataset.input_shape) for s in splits.values())
    # this process's own device: another process's device reports no memory statistics here
    device = next(d for d in mesh.devices.flat if d.process_index == jax.process_index())
    loop, why = choose_loop(tc.loop, nbytes, device_budget(device), device.platform)
    train_step = make_train_step(model, tx, schedule, config.loss, dataset.task, train_key, keep_last_good=False,
                                 tbptt_steps=int(config.train.get("tbptt_steps", 0)))
    eval_step = make_eval_step(model, config.loss, dataset.task, eval_key)
    sizes = (int(tc.batch_size), int(tc.eval_batch_size))
    if loop == "device":
        return DeviceStepper(train_step, eval_step, splits, mesh, *sizes, int(tc.steps_per_call),
                             int(tc.log_every_steps), int(tc.checkpoint_every_steps)), why
    return HostStepper(train_step, eval_step, splits, mesh, *sizes), why


def _restore(config: ml_collections.ConfigDict, workdir: Path, ckpt: checkpointing.Checkpointer, model, tx,
             input_shape: tuple, init_key: jax.Array, mesh: Mesh,
             allow_config_change: bool) -> tuple[TrainState, dict, dict | None, list[str]]:
    """The train state to start from (restored when ``workdir`` has a checkpoint), its meta, the
    config it was trained under and the notes to print. Writes nothing: a failed restore leaves
    the run as it was.

    Raises:
        validate.ConfigError: the config differs from the checkpoints' outside RESUMABLE_KEYS.
        run_files.RunDirError: config.json is damaged, or missing with no history.
    """
    resuming = ckpt.latest_step() is not None
    saved_config, notes = (_saved_config(RunDirectory(workdir), ckpt.latest_step(), allow_config_change) if resuming
                           else (None, []))
    diffs = check_resumed_config(saved_config, config, allow_config_change) if saved_config is not None else []
    if diffs:
        notes.append("warning: resuming with a changed config:\n  " + "\n  ".join(diffs))
    state = create_train_state(model, tx, input_shape, init_key, mesh)
    meta: dict[str, Any] = {}
    if resuming:
        state, meta = ckpt.restore(target=state, set_aside_unreadable=True)
    return state, meta, saved_config, notes


def _open_files(config: ml_collections.ConfigDict, workdir: Path, step: int, resuming: bool,
                saved_config: dict | None, notes: list[str]) -> metric_writers.MetricWriter:
    """The chief's files before the first step: notes printed, an earlier run's files set aside
    (no checkpoint to resume), the config history, ``config.json``, ``metrics.jsonl`` cut back to
    ``step``, no stale ``summary.json``; returns the metric writer."""
    for note in notes:
        print(note, file=sys.stderr)
    run_dir = RunDirectory(workdir)
    aside = None if resuming else run_dir.set_aside_earlier_run()
    if aside is not None:
        print(f"note: {workdir} has no checkpoint but held an earlier run's files: starting afresh; they "
              f"were moved to {aside} (nothing deleted)", file=sys.stderr)
    if saved_config is not None:
        changes = config_changes(saved_config, config)
    else:
        changes = [f"the earlier config is unknown (no {run_dir.CONFIG} or history)"] if resuming else []
    if not resuming or changes:
        run_dir.append_config_history(step, config, changes)
    run_dir.write_config(config)
    run_dir.truncate_metrics(step)  # the restored step (after a fallback, not the unreadable one)
    run_dir.remove_summary()  # a summary must never stand beside a run that then fails
    return run_dir.metric_writer()


def _train(config: ml_collections.ConfigDict, workdir: Path, mesh: Mesh, chief: bool, dataset: data_lib.Dataset,
           model, length: RunLength, tx, schedule, abstract: TrainState, allow_config_change: bool,
           progress: bool, start_time: float, stop: StopRequest) -> dict:
    """The run itself, holding the workdir's lock (see :func:`train_and_evaluate`)."""
    tc = config.train
    init_key, train_key, eval_key = jax.random.split(jax.random.PRNGKey(int(tc.seed)), 3)
    best_split = "validation" if dataset.validation is not None else "test"
    regression = dataset.task == "regression"
    run_dir = RunDirectory(workdir)
    with run_dir.checkpointer(max_to_keep=int(tc.max_checkpoints),
                              best_metric=f"{best_split}_{'mse' if regression else 'accuracy'}",
                              best_mode="min" if regression else "max") as ckpt:
        run_files.check_writable(Path(ckpt.directory))  # before training, not when the first save fails
        resuming = ckpt.latest_step() is not None
        state, meta, saved_config, notes = _restore(config, workdir, ckpt, model, tx, dataset.input_shape, init_key,
                                                    mesh, allow_config_change)
        step, summary_path = int(state.step), run_dir.summary_path
        finished = _finished_summary(run_dir) if resuming and step >= length.total_steps else None
        if finished is not None:
            if chief:
                print(f"nothing to do: {workdir} finished at step {step} (this config runs {length.total_steps} "
                      f"steps); its summary is {summary_path}. To train longer raise --config.train.num_epochs (or "
                      "num_steps) on this workdir; for a new run use a new --workdir.", file=sys.stderr)
            return finished
        writer = (_open_files(config, workdir, step, resuming, saved_config, notes) if chief
                  else metric_writers.NullWriter())
        try:
            stepper, why = _make_stepper(config, dataset, mesh, model, tx, schedule, train_key, eval_key)
        except BaseException:
            writer.close()
            raise
        run = _Run(config, workdir, mesh, chief, dataset, length, ckpt, writer, stepper, stop, progress, start_time,
                   count_params(abstract.params), meta)
        if chief:
            _print_start(run, resuming, step, why)
        try:
            summary = _Loop(run, state).train()
        finally:
            writer.close()
            stepper.close()
    if chief:
        run_dir.write_summary(summary)
        print(f"done: {format_eval('test', summary['test_metrics'])}; summary in {summary_path}", file=sys.stderr)
    return summary


def _print_start(run: _Run, resuming: bool, step: int, why: str) -> None:
    """The run's first line: data, size, steps, devices, which loop and why."""
    dataset, length, stepper = run.dataset, run.length, run.stepper
    where = (f"the device loop, up to {stepper.steps_per_call} steps per call" if stepper.kind == "device" else
             "batches loaded on the host, one step per call")
    print(f"snnjax: {dataset.name} ({dataset.train.num_examples} train / {dataset.test.num_examples} test), "
          f"{run.num_params:,} parameters, {length.total_steps} steps ({length.steps_per_epoch}/epoch) on "
          f"{run.mesh.size} {run.mesh.devices.flat[0].platform} device(s), {where} ({why})"
          + (f"; resuming at step {step}" if resuming else ""), file=sys.stderr)
