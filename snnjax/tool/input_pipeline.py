"""The host input pipeline: which examples each step sees, and how they reach the devices.

Everything a step consumes is a function of the step number: the batch is
``permutation(seed, epoch)[i·B:(i+1)·B]`` (incomplete last batch dropped) and data augmentation is
seeded by the epoch (``Split.get(idx, epoch=epoch)``), so a resumed run sees the same batches.

The global batch is sharded over every device on a 1-D mesh axis ``data``; each process loads only
its slice of the batch (``jax.make_array_from_process_local_data``). NumPy loading runs a few
batches ahead in a background thread (:func:`prefetch`).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from snnjax.io import data as data_lib
from snnjax.core.errors import ConfigError


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
        raise ConfigError(f"train.batch_size={train_cfg.batch_size} > {num_train} training examples")
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

