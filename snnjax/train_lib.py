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
- :mod:`snnjax.config_diff`: what a resumed run may change.

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

Files written to ``workdir``: ``config.json``, ``metrics.jsonl``, ``tb/`` (TensorBoard),
``checkpoints/<step>/``, ``summary.json``.
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

from snnjax import checkpointing, metric_writers, optim, validate
from snnjax import data as data_lib
from snnjax.config_diff import RESUMABLE_KEYS, check_resumed_config
from snnjax.evaluation import EvalResult, evaluate
from snnjax.input_pipeline import (RunLength, epoch_permutation, load_batch, make_mesh, prefetch, run_length,
                                   shard_batch, train_batch_indices)
from snnjax.run_summary import build_summary, count_params, format_eval, leak_values, progress_postfix
from snnjax.train_steps import (NonFiniteLossError, TrainState, create_train_state, init_state, jit_eval_step,
                                jit_train_step, make_eval_step, make_train_step)

__all__ = ["train_and_evaluate", "NonFiniteLossError", "TrainState", "RESUMABLE_KEYS", "check_resumed_config",
           "truncate_metrics"]

Metrics = dict[str, float]


def truncate_metrics(path: Path, step: int) -> None:
    """Drops the records after ``step`` from a JSON-lines metrics file.

    A killed run may have logged steps after its last checkpoint; the resumed run logs them again,
    so they are removed first and the file stays one record per step and kind.
    """
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
    if len(kept) != len(lines):
        path.write_text("".join(kept))


class _NullWriter:
    def write(self, step, metrics):
        pass

    def close(self):
        pass


# --------------------------------------------------------------------------- the loop


class _TrainMetrics:
    """Train metrics of the steps since the last check: fetched together (one sync), checked for
    non-finite steps, averaged and written."""

    def __init__(self, writer, length: RunLength, batch_size: int):
        self.writer, self.length, self.batch_size = writer, length, batch_size
        self.pending: list[tuple[int, dict]] = []
        self.last_time, self.last_step = time.time(), None

    def add(self, step: int, metrics: dict) -> None:
        self.pending.append((step, metrics))

    def restart_clock(self, steps_done: int) -> None:
        """Throughput counts from now: leaves compilation and evaluation out of samples/s."""
        self.last_time, self.last_step = time.time(), steps_done - 1

    def flush(self, last_checkpoint: int | None, checkpoint_dir: str) -> Metrics | None:
        if not self.pending:
            return None
        steps = [s for s, _ in self.pending]
        host = jax.device_get([m for _, m in self.pending])
        self.pending = []
        for step, m in zip(steps, host):
            if not bool(m["finite"]):
                epoch = step // self.length.steps_per_epoch
                kept = (f"the last good checkpoint is step {last_checkpoint} in {checkpoint_dir}; rerunning the "
                        "same command resumes from it" if last_checkpoint is not None else "no checkpoint was written yet")
                raise NonFiniteLossError(
                    f"training stopped: non-finite loss or gradients at step {step + 1} (epoch {epoch}, "
                    f"loss={float(m['loss']):.6g}, grad_norm={float(m['grad_norm']):.6g}); that update was not "
                    f"applied and {kept}. Try a lower learning rate (--config.optim.learning_rate), gradient "
                    "clipping (--config.optim.grad_clip_norm=1.0), or check the data for NaN/inf."
                )
        now = time.time()
        mean = {f"train/{k}": float(np.mean([float(m[k]) for m in host])) for k in host[0] if k != "finite"}
        if self.last_step is not None:
            mean["train/samples_per_s"] = (steps[-1] - self.last_step) * self.batch_size / max(now - self.last_time, 1e-9)
        self.last_time, self.last_step = now, steps[-1]
        self.writer.write(steps[-1] + 1, mean)
        return mean



def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
                       devices: Iterable[jax.Device] | None = None, allow_config_change: bool = False,
                       progress: bool = True) -> dict:
    """Trains ``config`` in ``workdir`` (resuming from its latest checkpoint) and evaluates it.

    Args:
        config: a full config (``snnjax.config.base_config`` and an experiment's changes).
        workdir: where checkpoints, metrics and the summary go; an existing run there is resumed.
        devices: devices to train on (default: all); the global batch is split over them.
        allow_config_change: resume even if the saved config differs in more than length/cadence.
        progress: show tqdm progress bars.

    Returns:
        The summary (also written to ``workdir/summary.json``).

    Raises:
        validate.ConfigError: a bad config (before anything is compiled).
        snnjax.data.DataNotFoundError: the dataset's files are missing.
        NonFiniteLossError: the loss became NaN/inf.
    """
    start_time = time.time()
    workdir = Path(workdir)
    mesh = make_mesh(devices)
    chief = jax.process_index() == 0
    tc = config.train

    # Everything that can be wrong with the config fails here, before any compile.
    validate.check_config(config, mesh.size)
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
    num_params = count_params(abstract.params)
    init_key, train_key, eval_key = jax.random.split(jax.random.PRNGKey(int(tc.seed)), 3)

    ckpt = checkpointing.Checkpointer(workdir / "checkpoints", max_to_keep=int(tc.max_checkpoints))
    resuming = ckpt.latest_step() is not None
    config_path = workdir / "config.json"
    if resuming and config_path.exists():
        diffs = check_resumed_config(json.loads(config_path.read_text()), config, allow_config_change)
        if diffs and chief:
            print("warning: resuming with a changed config:\n  " + "\n  ".join(diffs), file=sys.stderr)
    if chief:
        workdir.mkdir(parents=True, exist_ok=True)
        config_path.write_text(config.to_json_best_effort(indent=2) + "\n")
        truncate_metrics(workdir / "metrics.jsonl", ckpt.latest_step() or 0)
        writer = metric_writers.MultiWriter([metric_writers.JsonlWriter(workdir / "metrics.jsonl"),
                                             metric_writers.TensorBoardWriter(workdir / "tb")])
    else:
        writer = _NullWriter()

    state = create_train_state(model, tx, dataset.input_shape, init_key, mesh)
    meta: dict[str, Any] = {}
    if resuming:
        state, meta = ckpt.restore(target=state)
    step = int(state.step)
    last_checkpoint = ckpt.latest_step()
    train_step = jit_train_step(make_train_step(model, tx, schedule, config.loss, dataset.task, train_key), mesh)
    eval_step = jit_eval_step(make_eval_step(model, config.loss, dataset.task, eval_key), mesh)
    regression = dataset.task == "regression"
    key_metric, better = ("mse", min) if regression else ("accuracy", max)
    best = dict(meta.get("best", {}))
    batch_size, n_train = int(tc.batch_size), dataset.train.num_examples
    train_metrics = _TrainMetrics(writer, length, batch_size)
    # Throughput over every process of this run (a resumed run continues the count).
    train_seconds, train_steps_timed = float(meta.get("train_seconds", 0.0)), int(meta.get("train_steps_timed", 0))
    final: dict[str, EvalResult] = {}
    if chief:
        print(f"snnjax: {dataset.name} ({n_train} train / {dataset.test.num_examples} test), {num_params:,} "
              f"parameters, {length.total_steps} steps ({length.steps_per_epoch}/epoch) on {mesh.size} "
              f"{mesh.devices.flat[0].platform} device(s)" + (f"; resuming at step {step}" if resuming else ""),
              file=sys.stderr)

    def save(epoch: int) -> None:
        nonlocal last_checkpoint
        train_metrics.flush(last_checkpoint, ckpt.directory)  # raises before a bad state is saved
        if step == last_checkpoint or not checkpointing.is_finite_tree(state):
            return
        meta_now = {"step": step, "epoch": epoch, "best": best,
                    "wall_time_s": meta.get("wall_time_s", 0.0) + time.time() - start_time,
                    "train_seconds": train_seconds, "train_steps_timed": train_steps_timed}
        ckpt.save(step, state, meta_now)
        last_checkpoint = step

    def run_eval(epoch: int) -> dict[str, EvalResult]:
        results = {"test": evaluate(eval_step, state, dataset.test, int(tc.eval_batch_size), mesh)}
        if dataset.validation is not None:
            results["validation"] = evaluate(eval_step, state, dataset.validation, int(tc.eval_batch_size), mesh)
        scalars: dict[str, float] = {"epoch": epoch + 1}
        for split, r in results.items():
            scalars.update({f"{split}/{k}": v for k, v in r.metrics.items()})
            value = r.metrics[key_metric]
            best_key = f"best_{split}_{key_metric}"
            if best_key not in best or better(best[best_key], value) == value:
                best[best_key] = value
                if split == "validation":
                    best[f"test_{key_metric}_at_best_validation"] = results["test"].metrics[key_metric]
        scalars.update({f"firing_rate/{k}": v for k, v in results["test"].firing_rates.items()})
        writer.write(step, scalars)
        if chief:
            line = " | ".join(format_eval(s, r.metrics) for s, r in results.items())
            tqdm.write(f"epoch {epoch + 1}/{length.num_epochs} step {step}: {line}", file=sys.stderr)
        return results

    try:
        for epoch in range(step // length.steps_per_epoch, length.num_epochs):
            n_steps = length.steps_in_epoch(epoch)
            first = step - epoch * length.steps_per_epoch
            permutation = epoch_permutation(int(tc.seed), epoch, n_train)

            def load(i, permutation=permutation, epoch=epoch):
                return load_batch(dataset.train, train_batch_indices(permutation, i, batch_size), epoch)

            bar = tqdm(total=n_steps, initial=first, desc=f"epoch {epoch + 1}/{length.num_epochs}",
                       disable=not (chief and progress), file=sys.stderr, dynamic_ncols=True, leave=False)
            loop_start = None
            for x, y in prefetch(load, range(first, n_steps)):
                state, metrics = train_step(state, *shard_batch((x, y), mesh))
                train_metrics.add(step, metrics)
                step += 1
                bar.update(1)
                if loop_start is None:  # time from the end of the first step: leaves compilation out
                    jax.block_until_ready(metrics)
                    loop_start, steps_at_start = time.time(), step
                    train_metrics.restart_clock(step)
                if step % int(tc.log_every_steps) == 0:
                    mean = train_metrics.flush(last_checkpoint, ckpt.directory)
                    bar.set_postfix(progress_postfix(mean), refresh=False)
                if int(tc.checkpoint_every_steps) and step % int(tc.checkpoint_every_steps) == 0:
                    save(epoch)
            train_metrics.flush(last_checkpoint, ckpt.directory)
            jax.block_until_ready(state)
            if loop_start is not None:
                train_seconds += time.time() - loop_start
                train_steps_timed += step - steps_at_start
            bar.close()
            leaks = leak_values(state.params)  # k_tau(a) per epoch, for plots of the leaks over training
            if leaks:
                writer.write(step, {"epoch": epoch + 1, **leaks})
            if (epoch + 1) % int(tc.eval_every_epochs) == 0 or step == length.total_steps:
                final = run_eval(epoch)
            save(epoch)
        if not final:  # resumed at the very end: evaluate what was restored
            final = run_eval(length.num_epochs - 1)
    finally:
        ckpt.close()
        writer.close()

    summary = build_summary(config, final, best, regression, num_params, mesh, step, length,
                       wall_time=meta.get("wall_time_s", 0.0) + time.time() - start_time,
                       samples_per_s=train_steps_timed * batch_size / train_seconds if train_seconds else None)
    if chief:
        (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"done: {format_eval('test', final['test'].metrics)}; summary in {workdir / 'summary.json'}",
              file=sys.stderr)
    return summary

