"""The training loop: ``train_and_evaluate(config, workdir) -> summary``.

One run, start to end or resumed from ``workdir``::

    validate config → load data → build model → (restore checkpoint) →
      per epoch: permute indices from (seed, epoch) → jitted train steps → eval → checkpoint
    → summary.json (accuracy, firing rates, energy estimate, throughput)

The loop only orchestrates; its pieces live in their own modules:

- :mod:`snnjax.train_steps`: the pure train and eval steps, the train state, jitting over a mesh;
- :mod:`snnjax.input_pipeline`: batch order, the run's length, the host data path and the mesh;
- :mod:`snnjax.evaluation`: evaluation over a whole split;
- :mod:`snnjax.run_summary`: ``summary.json``, energy estimate and messages;
- :mod:`snnjax.config_diff`: what a resumed run may change;
- :mod:`snnjax.run_files`: the run's own files, never written through a link, read when damaged;
- :mod:`snnjax.preemption`: SIGTERM / SIGINT recorded, to stop after a checkpoint.

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
:class:`~snnjax.preemption.RunInterrupted` says so ("interrupted at step N, checkpoint saved; rerun
the same command to resume"); a second signal ends the process at once. An epoch's end is
evaluated and saved before the run stops; a signal during the last epoch's end lets the run finish.

Files written to ``workdir``: ``config.json``, ``config_history.jsonl``, ``metrics.jsonl``, ``tb/``
(TensorBoard), ``checkpoints/<step>/``, ``summary.json``. A run directory where one of the files is a
symbolic or hard link, or that cannot be written, is refused before training; one without a
checkpoint but with an earlier run's files has them moved to ``earlier_run_<n>/`` (nothing deleted).
"""

from __future__ import annotations

import json
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
from tqdm.auto import tqdm

from snnjax import checkpointing, metric_writers, optim, run_files, validate
from snnjax import data as data_lib
from snnjax.best_evaluation import improves
from snnjax.config_diff import (RESUMABLE_KEYS, append_config_history, check_resumed_config, config_changes,
                                config_from_history)
from snnjax.device_loop import (LOOPS, DeviceSplit, call_length, choose_loop, device_budget, make_eval_call,
                                make_train_call, put_replicated_array, split_nbytes, unstack, unstack_batches)
from snnjax.evaluation import EvalResult, evaluate, reduce_outputs
from snnjax.input_pipeline import (RunLength, epoch_permutation, load_batch, make_mesh, prefetch, run_length,
                                   shard_batch, train_batch_indices)
from snnjax.preemption import RunInterrupted, StopRequest
from snnjax.run_summary import build_summary, count_params, format_eval, leak_values, progress_postfix
from snnjax.run_lock import RunLock
from snnjax.train_steps import (NonFiniteLossError, TrainState, create_train_state, guarded_names, init_state,
                                jit_eval_step, jit_train_step, make_eval_step, make_train_step)

__all__ = ["train_and_evaluate", "NonFiniteLossError", "RunInterrupted", "TrainState", "RESUMABLE_KEYS",
           "check_resumed_config", "truncate_metrics"]


Metrics = dict[str, float]
# The files a run owns in its workdir (besides tb/ and checkpoints/); never written through a link.
CONFIG_FILE, HISTORY_FILE, METRICS_FILE, SUMMARY_FILE = ("config.json", "config_history.jsonl", "metrics.jsonl",
                                                         "summary.json")
OWNED_FILES = (".lock", CONFIG_FILE, HISTORY_FILE, METRICS_FILE, SUMMARY_FILE)
# Keys of the step metrics that are flags of the NaN guard, not quantities to average.
_GUARD_KEYS = ("finite", "nonfinite_leaf", "nonfinite_value")


def truncate_metrics(path: Path, step: int) -> None:
    """Drops the records after ``step`` from a JSON-lines metrics file.

    A killed run may have logged steps after its last checkpoint; the resumed run logs them again,
    so they are removed first and the file stays one record per step and kind. A half-written last
    line (the run was killed while writing it) is dropped too, with a warning. The file is replaced
    whole (:func:`snnjax.run_files.write_owned`), never written through a link.
    """
    if not path.exists():
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    kept = "".join(line + "\n" for line, record in run_files.jsonl_lines(path) if record.get("step", 0) <= step)
    if kept != text:
        run_files.write_owned(path, kept)


def has_eval_record(path: Path, step: int) -> bool:
    """Whether ``metrics.jsonl`` already holds the evaluation of ``step`` (a half-written last line
    is ignored)."""
    return any(r.get("step") == step and any(k.startswith("test/") for k in r) for r in run_files.read_jsonl(path))


# --------------------------------------------------------------------------- the loop


class _TrainMetrics:
    """Train metrics of the steps since the last check: fetched together (one sync), checked for
    non-finite steps, averaged and written.

    The host loop adds one step's metrics at a time (:meth:`add`), the device loop a call's
    stacked metrics (:meth:`add_call`); both flush the same per-step rows.
    """

    def __init__(self, writer, length: RunLength, batch_size: int, guarded: list[str]):
        self.writer, self.length, self.batch_size, self.guarded = writer, length, batch_size, guarded
        self.pending: list[tuple[int, int, dict, bool]] = []
        self.last_time, self.last_step = time.time(), None

    def add(self, step: int, metrics: dict) -> None:
        self.pending.append((step, 1, metrics, False))

    def add_call(self, first_step: int, num_steps: int, metrics: dict) -> None:
        self.pending.append((first_step, num_steps, metrics, True))

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


def _check_loop_config(tc: ml_collections.ConfigDict) -> None:
    if tc.loop not in LOOPS:
        raise validate.ConfigError(f"train.loop={tc.loop!r} must be one of {LOOPS}")
    if int(tc.steps_per_call) < 1:
        raise validate.ConfigError(f"train.steps_per_call={tc.steps_per_call} must be >= 1")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
                       devices: Iterable[jax.Device] | None = None, allow_config_change: bool = False,
                       progress: bool = True) -> dict:
    """Trains ``config`` in ``workdir`` (resuming from its latest checkpoint) and evaluates it.

    A finished run (its latest checkpoint at the config's last step, ``summary.json`` written) is
    not trained or evaluated again: its summary is returned, and nothing is written.

    Args:
        config: a full config (``snnjax.config.base_config`` and an experiment's changes).
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
    validate.check_config(config, mesh.size)
    _check_loop_config(tc)
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
    lock = RunLock(workdir) if chief else None
    if chief:
        run_files.check_owned_files(workdir / name for name in OWNED_FILES)  # no link is written through
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


def _saved_config(workdir: Path, step: int, allow_change: bool) -> tuple[dict | None, list[str]]:
    """The config the checkpoints of ``workdir`` were trained under (to step ``step``), and notes.

    From ``config.json``; when it is missing, from ``config_history.jsonl`` (said in a note). With
    neither, the run is refused unless ``allow_change`` (then ``None``: nothing to compare with).

    Raises:
        run_files.RunDirError: ``config.json`` is not valid JSON, or no config is found.
    """
    config_path, history_path = workdir / CONFIG_FILE, workdir / HISTORY_FILE
    if config_path.exists():
        return run_files.read_json(config_path, "restore it from a copy, or delete it (the run's config is then "
                                                "taken from config_history.jsonl)"), []
    saved = config_from_history(history_path, step)
    if saved is not None:
        return saved, [f"note: {config_path} is missing; the config of the checkpoints is taken from {history_path}"]
    if allow_change:
        return None, [f"warning: {config_path} and {history_path} are missing: the checkpoints' config is unknown, "
                      "resuming under this config as --allow_config_change asks"]
    raise run_files.RunDirError(
        f"{workdir} holds checkpoints but no {CONFIG_FILE} (nor {HISTORY_FILE}): the config that trained them is "
        f"unknown; put {CONFIG_FILE} back, or pass --allow_config_change to resume them under this config")


def _set_aside_earlier_run(workdir: Path) -> Path | None:
    """Moves an earlier run's files (config, metrics, summary, history, tb/) out of the way when
    ``workdir`` has no checkpoint to resume: into ``earlier_run_<n>/``, nothing deleted. ``None``
    when there were none."""
    found = [workdir / name for name in (*OWNED_FILES[1:], "tb") if (workdir / name).exists()]
    if not found:
        return None
    n = 1
    while (workdir / f"earlier_run_{n}").exists():
        n += 1
    aside = workdir / f"earlier_run_{n}"
    aside.mkdir()
    for path in found:
        os.replace(path, aside / path.name)
    return aside


def _finished_summary(path: Path) -> dict | None:
    """The summary of a finished run, or ``None`` (missing, or not valid JSON: said, then rewritten)."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        print(f"warning: {path} is not valid JSON: the run is evaluated again and it is rewritten", file=sys.stderr)
        return None


def _stop_agreed(stop: StopRequest) -> bool:
    """Whether any process received a stop signal (all processes must stop at the same step)."""
    if jax.process_count() == 1:
        return stop.requested
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.int32(stop.requested))))


def _train(config: ml_collections.ConfigDict, workdir: Path, mesh, chief: bool, dataset: data_lib.Dataset,
           model, length: RunLength, tx, schedule, abstract: TrainState, allow_config_change: bool,
           progress: bool, start_time: float, stop: StopRequest) -> dict:
    """The run itself, holding the workdir's lock (see :func:`train_and_evaluate`)."""
    tc = config.train
    num_params = count_params(abstract.params)
    init_key, train_key, eval_key = jax.random.split(jax.random.PRNGKey(int(tc.seed)), 3)
    regression = dataset.task == "regression"
    key_metric = "mse" if regression else "accuracy"
    # The checkpoint kept as "best": by validation when there is a validation split, else by test.
    best_split = "validation" if dataset.validation is not None else "test"
    best_name = f"{best_split}_{key_metric}"
    with checkpointing.Checkpointer(workdir / "checkpoints", max_to_keep=int(tc.max_checkpoints),
                                    best_metric=best_name, best_mode="min" if regression else "max") as ckpt:
        run_files.check_writable(Path(ckpt.directory))  # before training, not when the first save fails
        resuming = ckpt.latest_step() is not None
        config_path, metrics_path = workdir / CONFIG_FILE, workdir / METRICS_FILE
        summary_path = workdir / SUMMARY_FILE
        saved_config, notes = (_saved_config(workdir, ckpt.latest_step(), allow_config_change) if resuming
                               else (None, []))
        diffs = check_resumed_config(saved_config, config, allow_config_change) if saved_config is not None else []

        # Nothing is written before the checkpoint is restored: a failed restore leaves the run as it was.
        state = create_train_state(model, tx, dataset.input_shape, init_key, mesh)
        meta: dict[str, Any] = {}
        if resuming:
            state, meta = ckpt.restore(target=state, set_aside_unreadable=True)
        step = int(state.step)
        finished = _finished_summary(summary_path) if resuming and step >= length.total_steps else None
        if finished is not None:
            if chief:
                print(f"nothing to do: {workdir} finished at step {step} (this config runs "
                      f"{length.total_steps} steps); "
                      f"its summary is {summary_path}. To train longer raise --config.train.num_epochs (or "
                      "num_steps) on this workdir; for a new run use a new --workdir.", file=sys.stderr)
            return finished

        if chief:
            for note in notes:
                print(note, file=sys.stderr)
            if diffs:
                print("warning: resuming with a changed config:\n  " + "\n  ".join(diffs), file=sys.stderr)
            aside = None if resuming else _set_aside_earlier_run(workdir)
            if aside is not None:
                print(f"note: {workdir} has no checkpoint but held an earlier run's files: starting afresh; they "
                      f"were moved to {aside} (nothing deleted)", file=sys.stderr)
            if saved_config is not None:
                changes = config_changes(saved_config, config)
            else:
                changes = ["the earlier config is unknown (no config.json or history)"] if resuming else []
            if not resuming or changes:
                append_config_history(workdir / HISTORY_FILE, step, config, changes)
            run_files.write_owned(config_path, config.to_json_best_effort(indent=2) + "\n")
            truncate_metrics(metrics_path, step)  # the restored step (after a fallback, not the unreadable one)
            summary_path.unlink(missing_ok=True)  # a summary must never stand beside a run that then fails
            writer = metric_writers.MultiWriter([metric_writers.JsonlWriter(metrics_path),
                                                 metric_writers.TensorBoardWriter(workdir / "tb")])
        else:
            writer = metric_writers.NullWriter()

        splits = {"train": dataset.train, "test": dataset.test}
        if dataset.validation is not None:
            splits["validation"] = dataset.validation
        nbytes = sum(split_nbytes(s, dataset.input_shape) for s in splits.values())
        # this process's own device: another process's device reports no memory statistics here
        device = next(d for d in mesh.devices.flat if d.process_index == jax.process_index())
        loop, why = choose_loop(tc.loop, nbytes, device_budget(device), device.platform)
        steps_per_call = int(tc.steps_per_call)
        last_checkpoint = ckpt.latest_step()
        train_step = make_train_step(model, tx, schedule, config.loss, dataset.task, train_key, keep_last_good=False)
        eval_step = make_eval_step(model, config.loss, dataset.task, eval_key)
        best = dict(meta.get("best", {}))
        batch_size, n_train = int(tc.batch_size), dataset.train.num_examples
        log_every, checkpoint_every = int(tc.log_every_steps), int(tc.checkpoint_every_steps)
        train_metrics = _TrainMetrics(writer, length, batch_size, guarded_names(state))
        # Throughput over every process of this run (a resumed run continues the count).
        clock = _Throughput(float(meta.get("train_seconds", 0.0)), int(meta.get("train_steps_timed", 0)))
        final: dict[str, EvalResult] = {}
        if chief:
            where = (f"the device loop, up to {steps_per_call} steps per call" if loop == "device" else
                     "batches loaded on the host, one step per call")
            print(f"snnjax: {dataset.name} ({n_train} train / {dataset.test.num_examples} test), {num_params:,} "
                  f"parameters, {length.total_steps} steps ({length.steps_per_epoch}/epoch) on {mesh.size} "
                  f"{mesh.devices.flat[0].platform} device(s), {where} ({why})"
                  + (f"; resuming at step {step}" if resuming else ""), file=sys.stderr)

        if loop == "device":
            device_data = {name: DeviceSplit(split, mesh) for name, split in splits.items()}
            train_call, eval_calls = None, {}
        else:
            jitted_step = jit_train_step(train_step, mesh)
            jitted_eval = jit_eval_step(eval_step, mesh)

        def evaluate_split(name: str) -> EvalResult:
            split, eval_batch = splits[name], int(tc.eval_batch_size)
            if loop == "host":
                return evaluate(jitted_eval, state, split, eval_batch, mesh)
            x_all, y_all = device_data[name].for_epoch(0, prepare_next=False)
            if name not in eval_calls:
                eval_calls[name] = make_eval_call(eval_step, mesh, eval_batch, split.num_examples,
                                                  device_data[name].x_scale)
            return reduce_outputs(unstack_batches(jax.device_get(eval_calls[name](state, x_all, y_all))))

        def save(epoch: int, metrics: Metrics | None = None) -> None:
            nonlocal last_checkpoint
            train_metrics.flush(last_checkpoint, ckpt.directory)  # raises before a bad state is saved
            if step == last_checkpoint:
                return
            if not checkpointing.is_finite_tree(state):  # every step was checked: a bug if it happens
                raise NonFiniteLossError(f"the state of step {step} holds NaN/inf although every step's check passed; "
                                         f"it was not saved (last good checkpoint: step {last_checkpoint})")
            train_seconds, train_steps_timed = clock.totals(step)
            meta_now = {"step": step, "epoch": epoch, "best": best,
                        "wall_time_s": meta.get("wall_time_s", 0.0) + time.time() - start_time,
                        "train_seconds": train_seconds, "train_steps_timed": train_steps_timed}
            if not ckpt.save(step, state, meta_now, metrics=metrics):
                raise RuntimeError(f"the checkpoint of step {step} was not written: {ckpt.directory} already holds "
                                   f"step {ckpt.latest_step()}; use a new --workdir")
            last_checkpoint = step

        def interrupt(epoch: int) -> None:
            """Saves the state of ``step`` and its metrics, then stops the run (a stop signal came)."""
            if bar is not None:
                bar.close()
            save(epoch)
            ckpt.wait()
            writer.flush()
            saved = "checkpoint saved" if last_checkpoint == step else "nothing trained to save"
            raise RunInterrupted(f"interrupted at step {step} ({stop.describe()}), {saved}; rerun the same command "
                                 "to resume")

        def run_eval(epoch: int, write: bool = True) -> dict[str, EvalResult]:
            results = {"test": evaluate_split("test")}
            if dataset.validation is not None:
                results["validation"] = evaluate_split("validation")
            scalars: dict[str, float] = {"epoch": epoch + 1}
            for split, r in results.items():
                scalars.update({f"{split}/{k}": v for k, v in r.metrics.items()})
                value = r.metrics[key_metric]
                best_key = f"best_{split}_{key_metric}"
                if improves(value, best.get(best_key), higher_is_better=not regression):
                    best[best_key] = value
                    if split == "validation":
                        best[f"test_{key_metric}_at_best_validation"] = results["test"].metrics[key_metric]
            scalars.update({f"firing_rate/{k}": v for k, v in results["test"].firing_rates.items()})
            if write:
                writer.write(step, scalars)
            if chief:
                line = " | ".join(format_eval(s, r.metrics) for s, r in results.items())
                tqdm.write(f"epoch {epoch + 1}/{length.num_epochs} step {step}: {line}", file=sys.stderr)
            return results

        bar = None
        epoch_end = 0  # the step that ends the epoch being trained

        def after_steps(epoch: int, n: int, metrics) -> None:
            """Bookkeeping after ``n`` steps ran: clock, progress, log and checkpoint cadences, stop signals."""
            bar.update(n)
            if not clock.running:  # time from the end of the first call: leaves compilation out
                jax.block_until_ready(metrics)
                clock.start(step)
                train_metrics.restart_clock(step)
            if step % log_every == 0:
                mean = train_metrics.flush(last_checkpoint, ckpt.directory)
                bar.set_postfix(progress_postfix(mean), refresh=False)
            if step == epoch_end:
                return  # the epoch's end saves after its evaluation, whose figure its checkpoint then holds
            if checkpoint_every and step % checkpoint_every == 0:
                save(epoch)
            if _stop_agreed(stop):
                interrupt(epoch)

        try:
            # A run restored at its last step (e.g. killed before its summary) trains no epoch again.
            first_epoch = step // length.steps_per_epoch if step < length.total_steps else length.num_epochs
            for epoch in range(first_epoch, length.num_epochs):
                n_steps = length.steps_in_epoch(epoch)
                first = step - epoch * length.steps_per_epoch
                epoch_end = epoch * length.steps_per_epoch + n_steps
                permutation = epoch_permutation(int(tc.seed), epoch, n_train)
                bar = tqdm(total=n_steps, initial=first, desc=f"epoch {epoch + 1}/{length.num_epochs}",
                           disable=not (chief and progress), file=sys.stderr, dynamic_ncols=True, leave=False)
                if loop == "device":
                    x_all, y_all = device_data["train"].for_epoch(epoch, prepare_next=epoch + 1 < length.num_epochs)
                    if train_call is None:
                        train_call = make_train_call(train_step, mesh, batch_size, steps_per_call,
                                                     device_data["train"].x_scale)
                    order = put_replicated_array(permutation.astype(np.int32), mesh)
                    i = first
                    while i < n_steps:
                        n = 1 if not clock.running else call_length(step, i, n_steps, steps_per_call, log_every,
                                                                     checkpoint_every)
                        state, metrics = train_call(state, x_all, y_all, order, np.int32(i), np.int32(n))
                        train_metrics.add_call(step, n, metrics)
                        step, i = step + n, i + n
                        after_steps(epoch, n, metrics)
                else:
                    def load(i, permutation=permutation, epoch=epoch):
                        return load_batch(dataset.train, train_batch_indices(permutation, i, batch_size), epoch)

                    for x, y in prefetch(load, range(first, n_steps)):
                        state, metrics = jitted_step(state, *shard_batch((x, y), mesh))
                        train_metrics.add(step, metrics)
                        step += 1
                        after_steps(epoch, 1, metrics)
                train_metrics.flush(last_checkpoint, ckpt.directory)
                jax.block_until_ready(state)
                clock.stop(step)
                bar.close()
                bar = None
                # k_tau(a) per epoch, for plots of the leaks over training
                leaks = leak_values(state.params, decay_input=bool(config.model.neuron.decay_input))
                if leaks:
                    writer.write(step, {"epoch": epoch + 1, **leaks})
                evaluated = None
                if (epoch + 1) % int(tc.eval_every_epochs) == 0 or step == length.total_steps:
                    final = run_eval(epoch)
                    evaluated = {best_name: final[best_split].metrics[key_metric]}
                save(epoch, evaluated)
                if epoch + 1 < length.num_epochs and _stop_agreed(stop):
                    interrupt(epoch)
            if not final:  # resumed at the very end: evaluate what was restored (logged once only)
                final = run_eval(length.num_epochs - 1, write=not has_eval_record(metrics_path, step))
            ckpt.wait()
            best_step = ckpt.best_step()
        finally:
            writer.close()
            if loop == "device":
                for data in device_data.values():
                    data.close()

        summary = build_summary(config, final, best, regression, num_params, mesh, step, length,
                                wall_time=meta.get("wall_time_s", 0.0) + time.time() - start_time,
                                samples_per_s=clock.samples_per_s(batch_size))
        best_path = None if best_step is None else str(workdir / "checkpoints" / str(best_step))
        summary["best_checkpoint"] = {"step": best_step, "metric": best_name, "path": best_path}
        summary["loop"] = {"kind": loop, "steps_per_call": steps_per_call if loop == "device" else 1}
        if chief:
            run_files.write_owned(summary_path, json.dumps(summary, indent=2) + "\n")
            print(f"done: {format_eval('test', final['test'].metrics)}; summary in {summary_path}", file=sys.stderr)
        return summary
