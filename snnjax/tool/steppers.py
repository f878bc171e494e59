"""The two ways a run trains and evaluates, behind one interface: :class:`HostStepper` (batches
loaded on the host, one jitted step per call) and :class:`DeviceStepper` (splits held on the
devices, up to ``K`` steps per call: :mod:`snnjax.tool.device_loop`).

The training loop (:mod:`snnjax.tool.train_lib`) sees only :class:`Stepper`::

    stepper.start_epoch(epoch, permutation, first, n_steps, prepare_next)
    while i < n_steps:
        state, n, metrics = stepper.call(state, step, i, timed)   # n steps ran; metrics stacked [n] or one step's
        ...
    stepper.end_epoch()
    result = stepper.evaluate(state, "test")

Both feed the pure train step the same batches (``permutation`` of the epoch, batch ``i`` of it)
and the same per-step keys, so they train the same parameters (within float32 rounding: see
:mod:`snnjax.tool.device_loop`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import jax
import numpy as np
from jax.sharding import Mesh

from snnjax.io import data as data_lib
from snnjax.tool.device_loop import (DeviceSplit, call_length, make_eval_call, make_train_call, put_replicated_array,
                                unstack_batches)
from snnjax.tool.evaluation import EvalResult, evaluate, reduce_outputs
from snnjax.tool.input_pipeline import load_batch, prefetch, shard_batch, train_batch_indices
from snnjax.tool.train_steps import TrainState, jit_eval_step, jit_train_step


class Stepper(Protocol):
    """What the training loop needs from a way of running steps and evaluations."""

    kind: str  # "host" or "device"
    steps_per_call: int  # the most steps one call runs
    stacked: bool  # whether a call's metrics are stacked over its steps ([n, ...]) or one step's

    def start_epoch(self, epoch: int, permutation: np.ndarray, first: int, n_steps: int, prepare_next: bool) -> None:
        """Prepares the batches of ``epoch`` (``permutation`` of the training examples), from
        batch ``first`` to ``n_steps``; ``prepare_next``: another epoch follows."""

    def call(self, state: TrainState, step: int, i: int, timed: bool) -> tuple[TrainState, int, Any]:
        """Runs steps from batch ``i`` of the epoch (global step ``step``): ``(state, n, metrics)``.
        ``timed=False`` (the first call of an epoch, which may compile) runs one step."""

    def end_epoch(self) -> None:
        """Releases the epoch's batches."""

    def evaluate(self, state: TrainState, name: str) -> EvalResult:
        """The evaluation of ``state`` over split ``name`` ("test" or "validation")."""

    def close(self) -> None:
        """Releases everything (also after an error)."""


class HostStepper:
    """Batches loaded on the host (prefetched in a thread), one jitted step per call."""

    kind, steps_per_call, stacked = "host", 1, False

    def __init__(self, train_step: Callable, eval_step: Callable, splits: dict[str, data_lib.Split], mesh: Mesh,
                 batch_size: int, eval_batch_size: int):
        self._step, self._eval = jit_train_step(train_step, mesh), jit_eval_step(eval_step, mesh)
        self._splits, self._mesh = splits, mesh
        self._batch_size, self._eval_batch_size = batch_size, eval_batch_size
        self._batches: Iterator | None = None

    def start_epoch(self, epoch: int, permutation: np.ndarray, first: int, n_steps: int, prepare_next: bool) -> None:
        del prepare_next
        train, batch_size = self._splits["train"], self._batch_size

        def load(i: int) -> tuple[np.ndarray, np.ndarray]:
            return load_batch(train, train_batch_indices(permutation, i, batch_size), epoch)

        self._batches = prefetch(load, range(first, n_steps))

    def call(self, state: TrainState, step: int, i: int, timed: bool) -> tuple[TrainState, int, Any]:
        del step, i, timed
        x, y = next(self._batches)
        state, metrics = self._step(state, *shard_batch((x, y), self._mesh))
        return state, 1, metrics

    def end_epoch(self) -> None:
        if self._batches is not None:
            self._batches.close()  # stops the prefetch thread (also when the epoch stopped early)
            self._batches = None

    def evaluate(self, state: TrainState, name: str) -> EvalResult:
        return evaluate(self._eval, state, self._splits[name], self._eval_batch_size, self._mesh)

    def close(self) -> None:
        self.end_epoch()


class DeviceStepper:
    """Splits held on the devices, up to ``steps_per_call`` steps per call, cut at the log and
    checkpoint cadences and the epoch's end (:func:`snnjax.tool.device_loop.call_length`)."""

    kind, stacked = "device", True

    def __init__(self, train_step: Callable, eval_step: Callable, splits: dict[str, data_lib.Split], mesh: Mesh,
                 batch_size: int, eval_batch_size: int, steps_per_call: int, log_every: int, checkpoint_every: int):
        self._train_step, self._eval_step, self._mesh = train_step, eval_step, mesh
        self._splits, self._batch_size, self._eval_batch_size = splits, batch_size, eval_batch_size
        self.steps_per_call, self._log_every, self._checkpoint_every = steps_per_call, log_every, checkpoint_every
        self._data = {name: DeviceSplit(split, mesh) for name, split in splits.items()}
        self._train_call: Callable | None = None
        self._eval_calls: dict[str, Callable] = {}
        self._epoch: tuple | None = None  # (x, y, order, n_steps) of the epoch being trained

    def start_epoch(self, epoch: int, permutation: np.ndarray, first: int, n_steps: int, prepare_next: bool) -> None:
        del first
        x_all, y_all = self._data["train"].for_epoch(epoch, prepare_next=prepare_next)
        if self._train_call is None:
            self._train_call = make_train_call(self._train_step, self._mesh, self._batch_size, self.steps_per_call,
                                               self._data["train"].x_scale)
        order = put_replicated_array(permutation.astype(np.int32), self._mesh)
        self._epoch = (x_all, y_all, order, n_steps)

    def call(self, state: TrainState, step: int, i: int, timed: bool) -> tuple[TrainState, int, Any]:
        x_all, y_all, order, n_steps = self._epoch
        n = call_length(step, i, n_steps, self.steps_per_call, self._log_every, self._checkpoint_every) if timed else 1
        state, metrics = self._train_call(state, x_all, y_all, order, np.int32(i), np.int32(n))
        return state, n, metrics

    def end_epoch(self) -> None:
        self._epoch = None

    def evaluate(self, state: TrainState, name: str) -> EvalResult:
        split, data = self._splits[name], self._data[name]
        x_all, y_all = data.for_epoch(0, prepare_next=False)
        if name not in self._eval_calls:
            self._eval_calls[name] = make_eval_call(self._eval_step, self._mesh, self._eval_batch_size,
                                                    split.num_examples, data.x_scale)
        return reduce_outputs(unstack_batches(jax.device_get(self._eval_calls[name](state, x_all, y_all))))

    def close(self) -> None:
        self.end_epoch()
        for data in self._data.values():
            data.close()
