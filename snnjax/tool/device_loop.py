"""The input pipeline and the loop on the device: splits held in device memory, batches gathered
there, up to K optimiser steps per dispatch, a whole split evaluated in one call.

On small nets and batches (the paper nets train at batch 8 to 64) a loop that dispatches one jitted
step per batch and copies each batch from NumPy is bound by per-step overhead. Here instead:

- each split is copied to the devices once (replicated on the mesh; uint8 images stay uint8 and are
  scaled on the device exactly as ``ArraySplit.get`` does on the host);
- each epoch's order is ``input_pipeline.epoch_permutation(seed, epoch)`` (NumPy, on the host, so
  the batch order is the host loop's bit for bit), copied once per epoch as ``int32 [N]``;
- :func:`make_train_call` returns one jitted ``(state, x, y, permutation, first, n) -> (state,
  metrics)`` that runs the pure train step ``n <= K`` times in a ``lax.while_loop`` (batch ``i`` is
  ``permutation[(first + i)·B : (first + i + 1)·B]``, gathered and resharded on ``data`` inside the
  loop) and returns each step's metrics stacked ``[K]``, fetched by the host once per call at most;
  ``n`` is a traced argument, so calls cut short at a log, checkpoint or epoch boundary reuse the
  one compiled program (that is why this is a ``while_loop``, not a ``scan`` of fixed length);
- :func:`make_eval_call` scans the eval step over every batch of a split in one call.

The train step sees exactly what the host loop feeds it (same examples, same order, same
``fold_in(key, step)`` keys), so the parameters equal the host loop's within float32 rounding, not
bit for bit: XLA compiles a ``while_loop``'s body as a computation of its own, with other fusion
decisions, so sums are rounded in another order (on CPU one iteration of a while loop over the very
same step and batch already differs from the step jitted alone by ~1.5e-8; after 8 steps of the
smoke net the parameters differ by at most 2.3e-8, tested within 1e-6).

Splits whose examples change with the epoch (``AugmentedSplit``: the llc-lif MNIST RandomAffine)
are augmented on the host for the whole epoch (the same per-example generators as the host loop,
so the same images), one epoch ahead in a background thread, and copied once per epoch.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from snnjax.io import data as data_lib
from snnjax.tool.train_steps import TrainState, trace_once

LOOPS = ("auto", "device", "host")
# Without a device memory limit (CPU), splits up to this size go to the device under loop="auto".
DEFAULT_BUDGET_BYTES = 2 * 2**30
CHUNK = 4096  # examples per host get() when a split is materialised


# --------------------------------------------------------------------------- splits as arrays


@dataclasses.dataclass(frozen=True)
class HostArrays:
    """A whole split as arrays: ``x`` as stored (``get`` returns ``float32(x) · x_scale``), ``y``."""

    x: np.ndarray
    y: np.ndarray
    x_scale: float = 1.0


def epoch_invariant(split: data_lib.Split) -> bool:
    """Whether ``split.get`` ignores the epoch (known in-memory and generated splits, and views of
    them); False for augmented and unknown splits, which are then re-read every epoch."""
    if isinstance(split, (data_lib.ArraySplit, data_lib.GeneratedSplit)):
        return True
    if isinstance(split, data_lib.IndexedSplit):
        return epoch_invariant(split.base)
    return False


def split_nbytes(split: data_lib.Split, input_shape: tuple) -> int:
    """Bytes the split takes on the device (as stored when it is in memory, else float32)."""
    arrays = _stored(split)
    if arrays is not None:
        return arrays.x.nbytes + arrays.y.nbytes
    return split.num_examples * (math.prod(input_shape) * 4 + 8)


def _stored(split: data_lib.Split) -> HostArrays | None:
    """The stored arrays of an ``ArraySplit`` (or a view of one) without copying them to float32."""
    if isinstance(split, data_lib.ArraySplit):
        return HostArrays(split.x, split.y, float(split.x_scale))
    if isinstance(split, data_lib.IndexedSplit):
        base = _stored(split.base)
        if base is not None:
            return HostArrays(base.x[split.index_map], base.y[split.index_map], base.x_scale)
    return None


def host_arrays(split: data_lib.Split, epoch: int = 0) -> HostArrays:
    """Every example of ``split`` in ``epoch``: equal to ``split.get(range(N), epoch)`` (read in
    chunks; ``get`` is a pure function of index and epoch, so chunking changes nothing)."""
    arrays = _stored(split)
    if arrays is not None:
        return arrays
    parts = [split.get(np.arange(i, min(i + CHUNK, split.num_examples)), epoch)
             for i in range(0, split.num_examples, CHUNK)]
    return HostArrays(np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts]))


def device_budget(device: jax.Device) -> int:
    """Bytes the data may take under ``loop="auto"``: a quarter of the device memory where the
    backend reports it, else :data:`DEFAULT_BUDGET_BYTES`."""
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    limit = (stats or {}).get("bytes_limit")
    return int(limit) // 4 if limit else DEFAULT_BUDGET_BYTES


def choose_loop(loop: str, nbytes: int, budget: int, platform: str = "gpu") -> tuple[str, str]:
    """``("device" | "host", why)`` for ``train.loop``, the bytes the splits need on the device and
    the platform.

    ``"auto"`` picks the device loop when the data fit the budget, on every platform. (On CPU it used
    to pick the host loop: XLA:CPU ran the gradient convolutions of a ``while_loop`` body with a naive
    emitter, 3-7x slower per step. Since :func:`snnjax.layers.conv.conv2d` writes them in canonical
    form, ``python -m bench.run --quick --loop host device`` on a 2-core CPU gave device/host 1.4 on the
    seed nets, 1.1 on the sequence nets and 1.5 on the dense 784-100-10 net.) ``platform`` is kept
    for the message and for callers that want to special-case a backend.
    """
    mib = f"{nbytes / 2**20:.1f} MiB"
    if loop == "device":
        return "device", f"train.loop=device (data {mib} on each device)"
    if loop == "host":
        return "host", "train.loop=host"
    if nbytes <= budget:
        return "device", f"data {mib} fit on the {platform} device (budget {budget / 2**20:.0f} MiB)"
    return "host", (f"data {mib} exceed the device budget of {budget / 2**20:.0f} MiB; loading batches on the "
                    "host (--config.train.loop=device forces the device loop)")


def put_replicated(arrays: HostArrays, mesh: Mesh) -> tuple[jax.Array, jax.Array]:
    """``(x, y)`` as global arrays replicated over ``mesh`` (every process passes the whole split)."""
    return put_replicated_array(arrays.x, mesh), put_replicated_array(arrays.y, mesh)


def put_replicated_array(array: np.ndarray, mesh: Mesh) -> jax.Array:
    """One host array (the same on every process) → a global array replicated over ``mesh``."""
    return jax.make_array_from_process_local_data(NamedSharding(mesh, P()), np.ascontiguousarray(array))


class DeviceSplit:
    """A split on the devices, per epoch: ``for_epoch(e) -> (x, y)`` replicated arrays.

    Epoch-invariant splits are copied once. Others (augmentation) are materialised on the host for
    each epoch, the next one prepared in a background thread while the current one trains.
    """

    def __init__(self, split: data_lib.Split, mesh: Mesh):
        self.split, self.mesh = split, mesh
        self.invariant = epoch_invariant(split)
        self.x_scale = 1.0
        self._cached: tuple[int, tuple[jax.Array, jax.Array]] | None = None
        self._pool = None if self.invariant else concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._next: tuple[int, concurrent.futures.Future] | None = None

    def _arrays(self, epoch: int) -> HostArrays:
        if self._next is not None and self._next[0] == epoch:
            return self._next[1].result()
        return host_arrays(self.split, epoch)

    def for_epoch(self, epoch: int, prepare_next: bool = True) -> tuple[jax.Array, jax.Array]:
        key = 0 if self.invariant else epoch
        if self._cached is None or self._cached[0] != key:
            arrays = self._arrays(epoch)
            self.x_scale = arrays.x_scale
            self._cached = (key, put_replicated(arrays, self.mesh))
            if self._pool is not None and prepare_next:
                self._next = (epoch + 1, self._pool.submit(host_arrays, self.split, epoch + 1))
        return self._cached[1]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _gather(x_all: jax.Array, y_all: jax.Array, idx: jax.Array, x_scale: float,
            batch: NamedSharding) -> tuple[jax.Array, jax.Array]:
    """``split.get(idx)`` on the device, resharded on ``data``: ``float32(x[idx]) · x_scale``."""
    x = x_all[idx].astype(jnp.float32)
    if x_scale != 1.0:
        x = x * jnp.float32(x_scale)
    return lax.with_sharding_constraint(x, batch), lax.with_sharding_constraint(y_all[idx], batch)


# --------------------------------------------------------------------------- K steps per call


def make_train_call(train_step: Callable, mesh: Mesh, batch_size: int, steps_per_call: int,
                    x_scale: float) -> Callable:
    """``(state, x, y, permutation, first, n) -> (state, metrics)``: ``n <= steps_per_call`` steps.

    Step ``i`` of the call trains on ``permutation[(first + i)·B : (first + i + 1)·B]`` of the
    replicated split ``(x, y)``. ``metrics`` holds each step's metrics stacked ``[steps_per_call]``
    (rows from ``n`` on are zeros). The loop stops early after a step whose ``finite`` is False
    (that step's row is its metrics; the rows after it are zeros, ``finite`` False): the host raises
    on it and never saves that state. Jitted for ``mesh`` (state donated), compiled once.
    """
    replicated, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))

    def call(state: TrainState, x_all: jax.Array, y_all: jax.Array, permutation: jax.Array,
             first: jax.Array, n: jax.Array):
        def batch_at(i):
            idx = lax.dynamic_slice_in_dim(permutation, (first + i) * batch_size, batch_size)
            return _gather(x_all, y_all, idx, x_scale, batch)

        shapes = jax.eval_shape(lambda s: train_step(s, *batch_at(0))[1], state)
        buffer = jax.tree.map(lambda s: jnp.zeros((steps_per_call, *s.shape), s.dtype), shapes)

        def cond(carry):
            i, _, _, ok = carry
            return (i < n) & ok

        def body(carry):
            i, state, buffer, _ = carry
            state, metrics = train_step(state, *batch_at(i))
            buffer = jax.tree.map(lambda b, m: b.at[i].set(m), buffer, metrics)
            return i + 1, state, buffer, metrics["finite"]

        init = (jnp.zeros((), jnp.int32), state, buffer, jnp.ones((), bool))
        _, state, buffer, _ = lax.while_loop(cond, body, init)
        return state, buffer

    return jax.jit(trace_once(call), in_shardings=(replicated,) * 6, out_shardings=(replicated, replicated),
                   donate_argnums=0)


def call_length(step: int, step_in_epoch: int, steps_in_epoch: int, steps_per_call: int,
                log_every: int, checkpoint_every: int) -> int:
    """Steps of the next call: up to ``steps_per_call``, cut at the epoch's end and at the next
    log or checkpoint step, so every cadence keeps its exact meaning whatever K is."""
    n = min(steps_per_call, steps_in_epoch - step_in_epoch)
    for every in (log_every, checkpoint_every):
        if every > 0:
            n = min(n, every - step % every)
    return n


def unstack(metrics: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """The first ``n`` rows of stacked host metrics, one dict per step."""
    return [{k: v[i] for k, v in metrics.items()} for i in range(n)]


# --------------------------------------------------------------------------- a split in one call


def make_eval_call(eval_step: Callable, mesh: Mesh, batch_size: int, num_examples: int,
                   x_scale: float) -> Callable:
    """``(state, x, y) -> outputs``: the eval step scanned over every batch of a replicated split.

    Batches are ``input_pipeline.eval_batches``' (the last padded by wrapping around, masked), and
    ``outputs`` are the per-batch ``(sums, rates, synops)`` stacked on a leading batch axis, reduced
    on the host exactly as the host loop's (:func:`snnjax.tool.evaluation.reduce_outputs`).
    """
    replicated, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    num_batches = -(-num_examples // batch_size)

    def call(state: TrainState, x_all: jax.Array, y_all: jax.Array):
        def body(_, b):
            idx = b * batch_size + jnp.arange(batch_size, dtype=jnp.int32)
            mask = lax.with_sharding_constraint(idx < num_examples, batch)
            x, y = _gather(x_all, y_all, idx % num_examples, x_scale, batch)
            return None, eval_step(state, x, y, mask)

        return lax.scan(body, None, jnp.arange(num_batches, dtype=jnp.int32))[1]

    return jax.jit(call, in_shardings=(replicated,) * 3, out_shardings=replicated)


def unstack_batches(outputs: Any) -> list[Any]:
    """Stacked per-batch eval outputs (on the host) → a list with one entry per batch."""
    num = len(jax.tree.leaves(outputs)[0])
    return [jax.tree.map(lambda a: a[i], outputs) for i in range(num)]
