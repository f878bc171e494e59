"""The training loop: ``train_and_evaluate(config, workdir) -> summary``.

One run, start to end or resumed from ``workdir``::

    validate config → load data → build model → (restore checkpoint) →
      per epoch: permute indices from (seed, epoch) → jitted train steps → eval → checkpoint
    → summary.json (accuracy, firing rates, energy estimate, throughput)

Determinism and resumption. Everything a step consumes is a function of the step number: the batch
is ``permutation(seed, epoch)[i·B:(i+1)·B]`` (incomplete last batch dropped), data augmentation is
seeded by the epoch (``Split.get(idx, epoch=epoch)``), and the dropout/encoder keys are
``fold_in(key, step)``. So a run restored from a checkpoint of step ``s`` continues exactly as the
uninterrupted run would have.

Data parallelism. The global batch is sharded over every device on a 1-D mesh axis ``data`` and the
train state is replicated; ``jax.jit`` with these shardings lets GSPMD insert the gradient all-reduce,
and BatchNorm statistics (a mean over the batch axis) come out over the global batch. Each process
loads only its slice of the batch (``jax.make_array_from_process_local_data``).

Safety. A step whose loss, gradients or new parameters are not finite is not applied (the state
stays the last good one) and the loop stops at the next metrics check with a
:class:`NonFiniteLossError`; checkpoints are written only from finite states, so the last good one
is kept.

Files written to ``workdir``: ``config.json``, ``metrics.jsonl``, ``tb/`` (TensorBoard),
``checkpoints/<step>/``, ``summary.json``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import struct, traverse_util
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

from snnjax import checkpointing, energy, losses, metric_writers, optim, validate
from snnjax import data as data_lib
from snnjax.models.output import ModelOutput

PyTree = Any
Metrics = dict[str, float]

# Keys a resumed run may change: how long it runs and how often it reports, not what it computes.
RESUMABLE_KEYS = frozenset({
    "train.num_epochs", "train.num_steps", "train.eval_every_epochs", "train.checkpoint_every_steps",
    "train.log_every_steps", "train.max_checkpoints", "train.eval_batch_size", "data.data_dir",
})
# Energy constants of the bpsa-bpta paper's estimate (its Table 6 uses E_FL_MAC and E_INT_ADD).
E_MAC, E_AC = energy.E_FL_MAC, energy.E_INT_ADD


class NonFiniteLossError(FloatingPointError):
    """The loss, the gradients or the updated parameters became NaN or infinite."""


@struct.dataclass
class TrainState:
    """Everything a training step changes (a pytree; checkpointed as is).

    Attributes:
        step: int32 scalar, optimiser steps taken.
        params: the ``params`` collection.
        batch_stats: the ``batch_stats`` collection (running BatchNorm statistics), maybe empty.
        opt_state: the optax state.
    """

    step: jax.Array
    params: PyTree
    batch_stats: PyTree
    opt_state: PyTree


# --------------------------------------------------------------------------- the run's length


@dataclasses.dataclass(frozen=True)
class RunLength:
    """How many steps a run takes and how they group into epochs."""

    steps_per_epoch: int
    total_steps: int

    @property
    def num_epochs(self) -> int:
        """Epochs the loop enters; the last one may be partial (fractional ``num_epochs``)."""
        return math.ceil(self.total_steps / self.steps_per_epoch)

    def steps_in_epoch(self, epoch: int) -> int:
        return min(self.steps_per_epoch, self.total_steps - epoch * self.steps_per_epoch)


def run_length(train_cfg: ml_collections.ConfigDict, num_train: int) -> RunLength:
    """Epochs are ``num_train // batch_size`` steps; the run is ``num_steps`` steps when > 0, else
    ``round(num_epochs · steps_per_epoch)`` (``num_epochs`` may be fractional)."""
    steps_per_epoch = num_train // int(train_cfg.batch_size)
    if steps_per_epoch < 1:
        raise validate.ConfigError(f"train.batch_size={train_cfg.batch_size} > {num_train} training examples")
    if int(train_cfg.num_steps) > 0:
        total = int(train_cfg.num_steps)
    else:
        total = max(1, round(float(train_cfg.num_epochs) * steps_per_epoch))
    return RunLength(steps_per_epoch, total)


def epoch_permutation(seed: int, epoch: int, num_examples: int) -> np.ndarray:
    """The order of the training examples in ``epoch``: a pure function of ``(seed, epoch)``."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(num_examples)


def train_batch_indices(permutation: np.ndarray, step_in_epoch: int, batch_size: int) -> np.ndarray:
    """The global batch of step ``step_in_epoch`` (batches are consecutive slices of the permutation)."""
    return permutation[step_in_epoch * batch_size:(step_in_epoch + 1) * batch_size]


def eval_batches(num_examples: int, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(indices, mask)`` covering ``range(num_examples)`` in fixed-size batches.

    The last batch is padded with examples from the start of the split (wrapping around), and
    ``mask`` is False on the padding, so every batch has one shape (one compile) and masked sums
    give exact means over the whole split.
    """
    for start in range(0, num_examples, batch_size):
        idx = np.arange(start, start + batch_size)
        yield idx % num_examples, idx < num_examples


# --------------------------------------------------------------------------- devices


def make_mesh(devices: Iterable[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh with axis ``data`` over ``devices`` (default: all devices of all processes).

    Devices are ordered by process, so each process's devices hold a contiguous slice of the batch.
    """
    devices = list(jax.devices() if devices is None else devices)
    devices.sort(key=lambda d: (d.process_index, d.id))
    return Mesh(np.asarray(devices), ("data",))


def process_slice(global_batch_size: int) -> slice:
    """The part of a global batch this process loads (all of it on a single host)."""
    local = global_batch_size // jax.process_count()
    start = jax.process_index() * local
    return slice(start, start + local)


def shard_batch(arrays: tuple[np.ndarray, ...], mesh: Mesh) -> tuple[jax.Array, ...]:
    """Process-local NumPy arrays → global arrays sharded on the batch axis over ``data``."""
    sharding = NamedSharding(mesh, P("data"))
    return tuple(jax.make_array_from_process_local_data(sharding, np.asarray(a)) for a in arrays)


def load_batch(split: data_lib.Split, indices: np.ndarray, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """This process's share of the global batch ``indices``."""
    return split.get(indices[process_slice(len(indices))], epoch=epoch)


def prefetch(fn: Callable[[Any], Any], items: Iterable[Any], size: int = 2) -> Iterator[Any]:
    """``map(fn, items)`` computed ``size`` items ahead in a background thread (NumPy loading and
    augmentation overlap the device's work)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending: collections.deque = collections.deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > size:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# --------------------------------------------------------------------------- model, state, steps


def _rngs(key: jax.Array) -> dict[str, jax.Array]:
    dropout, encoder = jax.random.split(key)
    return {"dropout": dropout, "encoder": encoder}


def init_state(model: nn.Module, tx: optax.GradientTransformation, example_x: jax.Array,
               key: jax.Array) -> TrainState:
    """A fresh ``TrainState`` (pure; run it under ``jax.jit`` or ``jax.eval_shape``)."""
    k_params, k_rest = jax.random.split(key)
    variables = model.init({"params": k_params, **_rngs(k_rest)}, example_x, train=False)
    params = variables["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      batch_stats=variables.get("batch_stats", {}), opt_state=tx.init(params))


def create_train_state(model: nn.Module, tx: optax.GradientTransformation, input_shape: tuple,
                       key: jax.Array, mesh: Mesh) -> TrainState:
    """Initialises the state directly as replicated arrays on ``mesh``."""
    def init(k):
        return init_state(model, tx, jnp.zeros((1, *input_shape), jnp.float32), k)

    return jax.jit(init, out_shardings=NamedSharding(mesh, P()))(key)


def task_metrics(output: ModelOutput, y: jax.Array, task: str) -> dict[str, jax.Array]:
    """``accuracy`` for classification tasks, ``mse`` of the scalar read-out for regression."""
    if task == "regression":
        pred = output.prediction().astype(jnp.float32)[..., 0]
        return {"mse": jnp.mean(jnp.square(pred - y.astype(jnp.float32)))}
    return {"accuracy": losses.accuracy(output, y)}


def make_train_step(model: nn.Module, tx: optax.GradientTransformation, schedule: optax.Schedule,
                    loss_cfg: ml_collections.ConfigDict, task: str, base_key: jax.Array):
    """The pure train step ``(state, x, y) -> (state, metrics)``.

    The dropout and encoder keys are ``fold_in(base_key, state.step)``. A step with a non-finite
    loss, gradient norm or parameter norm returns the input state unchanged and
    ``metrics["finite"] = False``, so the state never holds NaN.
    """
    name, local_weight, reduction = loss_cfg.name, float(loss_cfg.local_weight), loss_cfg.reduction

    def train_step(state: TrainState, x: jax.Array, y: jax.Array) -> tuple[TrainState, dict]:
        key = jax.random.fold_in(base_key, state.step)

        def loss_fn(params):
            output, updates = model.apply(
                {"params": params, "batch_stats": state.batch_stats}, x, train=True,
                rngs=_rngs(key), mutable=["batch_stats"])
            loss, parts = losses.total_loss(output, y, name, local_weight, reduction)
            return loss, (output, updates.get("batch_stats", {}), parts)

        (loss, (output, batch_stats, parts)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        grad_norm = optax.tree.norm(grads)
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm) & jnp.isfinite(optax.tree.norm(params))
        new = TrainState(step=state.step + 1, params=params, batch_stats=batch_stats, opt_state=opt_state)
        new = jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, state)
        metrics = {**parts, **task_metrics(output, y, task), "grad_norm": grad_norm,
                   "learning_rate": schedule(state.step), "finite": finite}
        return new, metrics

    return train_step


def trace_once(fn: Callable) -> Callable:
    """``fn`` that raises if traced twice: under ``jax.jit`` a second trace means a recompile (an
    input's shape, dtype or sharding changed), which would silently slow every epoch.

    Like ``chex.assert_max_traces(n=1)``, but counting per wrapped closure, so that a second run in
    the same process (tests) builds a fresh step without tripping the guard.
    """
    traces = 0

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        nonlocal traces
        traces += 1
        if traces > 1:
            raise AssertionError(f"{fn.__name__} traced {traces} times: an input changed shape, dtype or "
                                 "sharding, forcing a recompile")
        return fn(*args, **kwargs)

    return wrapped


def jit_train_step(train_step, mesh: Mesh):
    """``train_step`` jitted for ``mesh``: state replicated and donated, batch sharded on ``data``,
    guarded by :func:`trace_once`."""
    replicated, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    return jax.jit(trace_once(train_step), in_shardings=(replicated, batch, batch),
                   out_shardings=(replicated, replicated), donate_argnums=0)


def per_example_metrics(output: ModelOutput, y: jax.Array, loss_cfg: ml_collections.ConfigDict,
                        task: str) -> dict[str, jax.Array]:
    """Loss parts and task metrics of each example, ``[B]`` each.

    Each example is scored as a batch of one with the library's own loss and metric functions, so
    the mean of these over a set is exactly the batch loss/metric over that set.
    """

    def one(out, local_outs, y1):
        o = ModelOutput(out=out[:, None], local_outs=tuple(l[:, None] for l in local_outs),
                        readout=output.readout)
        _, parts = losses.total_loss(o, y1[None], loss_cfg.name, float(loss_cfg.local_weight),
                                     loss_cfg.reduction)
        return {**parts, **task_metrics(o, y1[None], task)}

    return jax.vmap(one, in_axes=(1, 1, 0))(output.out, output.local_outs, y)


def _sown(tree: Mapping, leaf_name: str) -> dict[str, Any]:
    """``{module path: values}`` of a sown collection (``conv0/neuron/rate`` → ``conv0/neuron``)."""
    flat = traverse_util.flatten_dict(flax.core.unfreeze(tree), sep="/")
    return {k[: -len(leaf_name) - 1]: v for k, v in flat.items() if k.endswith("/" + leaf_name)}


def make_eval_step(model: nn.Module, loss_cfg: ml_collections.ConfigDict, task: str, key: jax.Array):
    """The pure eval step ``(state, x, y, mask) -> (sums, rates, synops)``, in eval mode.

    Returns masked sums of the per-example metrics (plus ``count``), the batch's mean firing rate
    per spiking layer, and per synaptic layer ``macs, input_rate, analog_input, steps``.
    """

    def eval_step(state: TrainState, x: jax.Array, y: jax.Array, mask: jax.Array):
        output, cols = model.apply({"params": state.params, "batch_stats": state.batch_stats}, x,
                                   train=False, rngs=_rngs(key), mutable=["spikes", "synops"])
        weights = mask.astype(jnp.float32)
        per_example = per_example_metrics(output, y, loss_cfg, task)
        sums = {k: jnp.sum(v * weights) for k, v in per_example.items()}
        sums["count"] = jnp.sum(weights)
        # A module called several times sows several values: average them.
        rates = {k: jnp.mean(jnp.stack(v)) for k, v in _sown(cols.get("spikes", {}), "rate").items()}
        synops = {}
        for k, calls in _sown(cols.get("synops", {}), "cost").items():
            synops[k] = dict(calls[0], input_rate=jnp.mean(jnp.stack([c["input_rate"] for c in calls])))
        return sums, rates, synops

    return eval_step


def jit_eval_step(eval_step, mesh: Mesh):
    replicated, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    return jax.jit(eval_step, in_shardings=(replicated, batch, batch, batch), out_shardings=replicated)


@dataclasses.dataclass
class EvalResult:
    """Means over a whole split: metrics, firing rate per spiking layer, synaptic-layer costs."""

    metrics: Metrics
    firing_rates: dict[str, float]
    synops: dict[str, dict[str, float]]


def evaluate(eval_step, state: TrainState, split: data_lib.Split, batch_size: int, mesh: Mesh) -> EvalResult:
    """Runs ``eval_step`` over all of ``split`` (last partial batch padded and masked out).

    Metrics are exact means over the split. Firing rates are batch means weighted by each batch's
    number of real examples; the padded last batch's rates also include its (repeated) padding
    examples, a bias of at most ``batch_size - 1`` repeats.
    """

    def load(batch):
        idx, mask = batch
        local = process_slice(len(idx))
        x, y = split.get(idx[local], epoch=0)
        return x, y, mask[local]

    outputs = [eval_step(state, *shard_batch(b, mesh))
               for b in prefetch(load, eval_batches(split.num_examples, batch_size))]
    outputs = jax.device_get(outputs)
    counts = np.array([float(s["count"]) for s, _, _ in outputs])
    total = counts.sum()
    metrics = {k: float(sum(float(s[k]) for s, _, _ in outputs) / total) for k in outputs[0][0] if k != "count"}
    weights = counts / total
    rates = {k: float(sum(w * float(r[k]) for w, (_, r, _) in zip(weights, outputs))) for k in outputs[0][1]}
    synops = {}
    for k, first in outputs[0][2].items():
        rate = float(sum(w * float(o[k]["input_rate"]) for w, (_, _, o) in zip(weights, outputs)))
        synops[k] = {"macs": float(first["macs"]), "input_rate": rate,
                     "analog_input": bool(first["analog_input"]), "steps": int(first["steps"])}
    return EvalResult(metrics, rates, synops)


# --------------------------------------------------------------------------- reports


def energy_report(synops: Mapping[str, Mapping[str, float]]) -> dict:
    """The bpsa-bpta energy estimate (paper Eq. 11) from the ``synops`` of an evaluation.

    T is the longest ``steps`` of any layer (a static first conv under direct coding runs once but
    is charged per step, as in the paper). Constants: ``E_FL_MAC`` = 4.6 pJ per MAC and
    ``E_INT_ADD`` = 0.1 pJ per accumulate (Horowitz 2014), which reproduce the paper's Table 6.
    """
    if not synops:
        return {}
    layers = [energy.LayerCost(name, c["macs"], None if c["analog_input"] else min(max(c["input_rate"], 0.0), 1.0))
              for name, c in synops.items()]
    time_steps = max(int(c["steps"]) for c in synops.values())
    report = energy.estimate_energy(layers, time_steps, e_mac=E_MAC, e_ac=E_AC)
    for layer in report["layers"]:
        layer["steps"] = int(synops[layer["name"]]["steps"])
    report["constants"] = {"e_mac": "E_FL_MAC = 4.6 pJ (32-bit float MAC, Horowitz 2014, 45 nm)",
                           "e_ac": "E_INT_ADD = 0.1 pJ (32-bit int add; bpsa-bpta paper's E_INT_AC)",
                           "units": "joules per example"}
    return report


def leak_values(params: PyTree) -> dict[str, float]:
    """``leak/<layer path>``: the LLC-LIF leak k_τ(a) = sigmoid(a) of every layer (mean if per channel)."""
    flat = traverse_util.flatten_dict(flax.core.unfreeze(jax.device_get(params)), sep="/")
    return {f"leak/{k[:-2]}": float(np.mean(1.0 / (1.0 + np.exp(-np.asarray(v, np.float64)))))
            for k, v in flat.items() if k.endswith("/a") or k == "a"}


def count_params(params: PyTree) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(params)))


def device_info(mesh: Mesh) -> dict:
    device = mesh.devices.flat[0]
    return {"platform": device.platform, "kind": device.device_kind, "count": int(mesh.size),
            "process_count": jax.process_count()}


def _flat_config(config: ml_collections.ConfigDict | Mapping) -> dict[str, Any]:
    values = json.loads(config.to_json_best_effort()) if isinstance(config, ml_collections.ConfigDict) else config
    return traverse_util.flatten_dict(values, sep=".")


def check_resumed_config(saved: Mapping, config: ml_collections.ConfigDict, allow_change: bool) -> list[str]:
    """Differences between a workdir's saved config and ``config`` outside :data:`RESUMABLE_KEYS`.

    Raises:
        validate.ConfigError: there are differences and ``allow_change`` is False.
    """
    old, new = _flat_config(dict(saved)), _flat_config(config)
    diffs = [f"{k}: {old.get(k, '<absent>')!r} (saved) -> {new.get(k, '<absent>')!r} (now)"
             for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k) and k not in RESUMABLE_KEYS]
    if diffs and not allow_change:
        raise validate.ConfigError(
            "the workdir holds a checkpoint of a run with a different config:\n  " + "\n  ".join(diffs)
            + "\nUse a new --workdir, or pass --allow_config_change to resume it with the new config anyway "
            "(only length and cadence keys may change freely: " + ", ".join(sorted(RESUMABLE_KEYS)) + ")."
        )
    return diffs


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


def _format_eval(name: str, m: Metrics) -> str:
    if "accuracy" in m:
        return f"{name} accuracy {100 * m['accuracy']:.2f}% loss {m['loss']:.4f}"
    return f"{name} mse {m['mse']:.5g} loss {m['loss']:.5g}"


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
        state, meta = ckpt.restore(target=state, set_aside_unreadable=True)
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
            line = " | ".join(_format_eval(s, r.metrics) for s, r in results.items())
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
                    bar.set_postfix(_postfix(mean), refresh=False)
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

    summary = _summary(config, final, best, regression, num_params, mesh, step, length,
                       wall_time=meta.get("wall_time_s", 0.0) + time.time() - start_time,
                       samples_per_s=train_steps_timed * batch_size / train_seconds if train_seconds else None)
    if chief:
        (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"done: {_format_eval('test', final['test'].metrics)}; summary in {workdir / 'summary.json'}",
              file=sys.stderr)
    return summary


def _postfix(mean: Metrics | None) -> dict[str, str]:
    if not mean:
        return {}
    out = {"loss": f"{mean['train/loss']:.4f}"}
    if "train/accuracy" in mean:
        out["acc"] = f"{100 * mean['train/accuracy']:.1f}%"
    if "train/mse" in mean:
        out["mse"] = f"{mean['train/mse']:.4g}"
    if "train/samples_per_s" in mean:
        out["samples/s"] = f"{mean['train/samples_per_s']:.0f}"
    return out


def _summary(config, final: dict[str, EvalResult], best: dict, regression: bool, num_params: int,
             mesh: Mesh, step: int, length: RunLength, wall_time: float, samples_per_s: float | None) -> dict:
    key = "mse" if regression else "accuracy"
    test = final["test"]
    summary: dict[str, Any] = {f"final_test_{key}": test.metrics[key], f"best_test_{key}": best[f"best_test_{key}"],
                               "final_test_loss": test.metrics["loss"]}
    if "validation" in final:
        summary[f"final_validation_{key}"] = final["validation"].metrics[key]
        summary[f"best_validation_{key}"] = best[f"best_validation_{key}"]
        summary[f"test_{key}_at_best_validation"] = best[f"test_{key}_at_best_validation"]
    summary.update(
        test_metrics=test.metrics,
        num_params=num_params,
        steps=step,
        epochs=step / length.steps_per_epoch,
        wall_time_s=wall_time,
        samples_per_s=samples_per_s,
        firing_rates=test.firing_rates,
        energy=energy_report(test.synops),
        device=device_info(mesh),
        jax_version=jax.__version__,
        flax_version=flax.__version__,
        config=json.loads(config.to_json_best_effort()),
    )
    return summary
