"""Checkpoints of the training state plus the loop's position, on orbax's CheckpointManager.

Each checkpoint ``<directory>/<step>/`` holds two items written together:

- ``state``: the train-state pytree (``StandardSave``: arrays, optax state, integer step),
- ``meta``: a JSON dict with the loop's position (epoch, step in epoch, ...) (``JsonSave``).

orbax writes a checkpoint into a temporary directory and renames it into place only once it is
complete, so an interrupted save leaves every earlier checkpoint intact; the leftover temporary
directory is ignored by :meth:`Checkpointer.latest_step` and removed when a ``Checkpointer`` is next
opened on the directory. Old checkpoints are deleted only after a newer one is finalised, keeping
the latest ``max_to_keep`` and, with ``best_metric``, also the best checkpoint by that metric among
those saved with metrics (orbax's ``BestN`` preservation policy; :meth:`Checkpointer.best_step`), by
the one rule of :mod:`snnjax.tool.best_evaluation`: a tie goes to the later checkpoint, NaN never wins.

Saves are asynchronous: :meth:`Checkpointer.save` returns once the arrays are copied off the device;
call :meth:`Checkpointer.wait` (or :meth:`Checkpointer.close`) before relying on the files.

Example::

    with Checkpointer(workdir / "checkpoints", max_to_keep=3) as ckpt:
        if ckpt.latest_step() is not None:
            state, meta = ckpt.restore(target=state)
        ...
        ckpt.save(step, state, {"epoch": epoch, "step_in_epoch": i})
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import sys
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from etils import epath

PyTree = Any


class Checkpointer:
    """A thin wrapper over ``orbax.checkpoint.CheckpointManager`` (orbax-checkpoint >= 0.12.4).

    Args:
      directory: root directory of the step directories; created if missing.
      max_to_keep: how many of the newest checkpoints to keep; ``None`` keeps all.
      best_metric: also keep the checkpoint with the best value of this metric, among those saved
        with ``metrics`` (e.g. ``"validation_accuracy"``); ``None``: only the latest.
      best_mode: ``"max"`` or ``"min"``: which value of ``best_metric`` is best.
      read_only: for tools that only read a run (report, export, evaluation): nothing is created,
        saved, deleted or cleaned up (no background clean-up of a half-written save's temporary
        directory, whose thread would outlive a short-lived tool and fail at its exit).
    """

    def __init__(self, directory: str | os.PathLike, max_to_keep: int | None = 3,
                 best_metric: str | None = None, best_mode: str = "max", read_only: bool = False):
        self.directory = os.path.abspath(os.fspath(directory))
        self.best_metric = best_metric
        # `max_to_keep=` is deprecated in favour of a preservation policy.
        policy = ocp.checkpoint_managers.LatestN(n=max_to_keep)
        best = {}
        if best_metric is not None:
            if best_mode not in ("max", "min"):
                raise ValueError(f"best_mode must be 'max' or 'min', got {best_mode!r}")
            rank = functools.partial(best_rank, best_metric=best_metric, higher_is_better=best_mode == "max")
            # Both orbax sorts put the best last with reverse=False / best_mode="max": see best_rank.
            policy = ocp.checkpoint_managers.AnyPreservationPolicy([policy, ocp.checkpoint_managers.BestN(
                get_metric_fn=rank, reverse=False, n=1, keep_checkpoints_without_metrics=False)])
            # best_fn makes orbax read the metrics of existing checkpoints back when reopened.
            best = dict(best_fn=rank, best_mode="max")
        options = ocp.CheckpointManagerOptions(preservation_policy=policy, cleanup_tmp_directories=not read_only,
                                               create=not read_only, **best)
        self.read_only = read_only
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, step: int, state: PyTree, meta: Mapping[str, Any], force: bool = False,
             metrics: Mapping[str, float] | None = None) -> bool:
        """Starts saving ``state`` and ``meta`` as checkpoint ``step``.

        Args:
          step: the checkpoint's step number.
          state: pytree of arrays and scalars.
          meta: JSON-able dict (checked here, before anything is written).
          force: save even if the manager's save policy would skip this step.
          metrics: ``{best_metric: value}`` for a checkpoint that competes for "best" (one saved
            right after an evaluation); ``None`` for the others. A NaN value does not compete.

        Returns:
          Whether a save was started: ``False`` (nothing written) when ``step`` is not newer than
          the latest checkpoint, e.g. saving again right after a restore.

        Raises:
          TypeError: ``meta`` is not JSON-able.
          ValueError: ``force=True`` and checkpoint ``step`` exists (orbax's
            ``StepAlreadyExistsError``), or ``state`` holds a leaf orbax cannot save; earlier
            checkpoints are untouched.
        """
        if self.read_only:
            raise ValueError(f"this Checkpointer on {self.directory} is read-only; open one without read_only to save")
        meta = dict(meta)
        json.dumps(meta)  # fail now, not in orbax's background thread
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        if metrics is not None and self.best_metric is not None and _is_nan(metrics.get(self.best_metric)):
            metrics = None  # a NaN figure never competes for best
        if metrics is not None:  # the step decides ties (best_rank); orbax stores metrics beside the step
            metrics = {**dict(metrics), STEP_KEY: int(step)}
        return self._manager.save(int(step), args=args, force=force, metrics=metrics)

    def best_step(self) -> int | None:
        """The kept checkpoint with the best ``best_metric`` by :mod:`snnjax.tool.best_evaluation`'s rule
        (a tie goes to the later checkpoint, NaN never wins): ``None`` if none was saved with a
        metric that is not NaN, or without ``best_metric``."""
        if self.best_metric is None:
            return None
        self.wait()
        return self._manager.best_step()

    def latest_step(self) -> int | None:
        """The newest finalised checkpoint step, or ``None``."""
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        """All finalised checkpoint steps, ascending."""
        return sorted(self._manager.all_steps())

    def restore(
        self, step: int | None = None, target: PyTree = None, set_aside_unreadable: bool = False
    ) -> tuple[PyTree, dict]:
        """Restores checkpoint ``step`` (default: the newest readable one) into ``target``'s structure.

        With ``step=None`` a checkpoint that cannot be read (a truncated array file, an empty or
        corrupted ``_METADATA``, ...) is skipped for the next older one, with a warning on stderr
        naming the unreadable checkpoint and the one used. The unreadable one is never deleted:
        it stays in place, or with ``set_aside_unreadable=True`` (the training loop, which must be
        able to save that step again) it is renamed to ``<step>.unreadable`` next to the others,
        where orbax ignores it.

        Args:
          step: which checkpoint; ``None`` for the newest readable one.
          target: a pytree like the saved state (concrete arrays or ``jax.ShapeDtypeStruct``s).
            Leaves are restored with its dtypes and shardings. ``None`` restores the saved tree
            as saved, onto the current default device, whatever devices it was saved from (a run
            trained on 4 devices is read back on 1).
          set_aside_unreadable: rename skipped checkpoints to ``<step>.unreadable``.

        Returns:
          ``(state, meta)``.

        Raises:
          FileNotFoundError: there is no checkpoint (at ``step``).
          CheckpointError: checkpoint ``step`` is unreadable, or (``step=None``) none is readable;
            the message names each checkpoint and its error.
        """
        self.wait()
        if step is not None:
            if step not in self._manager.all_steps():
                raise FileNotFoundError(f"no checkpoint for step {step} in {self.directory}")
            try:
                return self._restore_step(int(step), target)
            except Exception as error:  # orbax/tensorstore raise many types for a damaged file
                raise CheckpointError(
                    f"checkpoint {self._step_dir(step)} is unreadable ({_one_line(error)}); "
                    "restore another step or delete this one"
                ) from error
        steps = sorted(self._manager.all_steps(), reverse=True)
        if not steps:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        failures: list[tuple[int, Exception]] = []
        for candidate in steps:
            try:
                restored = self._restore_step(candidate, target)
            except Exception as error:  # see above; the newest error is re-raised if none is readable
                failures.append((candidate, error))
                continue
            if failures:
                self._report_unreadable(failures, candidate, set_aside_unreadable)
            return restored
        listing = "; ".join(f"{self._step_dir(s)}: {_one_line(e)}" for s, e in failures)
        raise CheckpointError(
            f"no readable checkpoint in {self.directory} ({listing}); nothing was deleted. Restore a "
            f"copy of the checkpoints, or start afresh in a new --workdir"
        ) from failures[0][1]

    def read_meta(self, step: int | None = None) -> dict | None:
        """The ``meta`` item of checkpoint ``step`` alone (orbax's ``restore`` of that item; the
        arrays are not read); ``step=None``: the newest checkpoint whose meta is readable, skipping
        unreadable ones silently (a reader of a run in progress, not the trainer). ``None`` when
        there is no such checkpoint, or ``step``'s meta cannot be read."""
        self.wait()
        steps = sorted(self._manager.all_steps(), reverse=True) if step is None else [int(step)]
        for candidate in steps:
            try:
                return dict(self._manager.restore(candidate, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta)
            except Exception:  # a damaged or missing item: orbax raises many types; try the one before
                continue
        return None

    def _step_dir(self, step: int) -> str:
        return os.path.join(self.directory, str(step))

    def _restore_step(self, step: int, target: PyTree) -> tuple[PyTree, dict]:
        abstract = _abstract(target) if target is not None else _on_default_device(
            # the handler's metadata, not StandardCheckpointer's (which warns about a step-metadata file)
            ocp.StandardCheckpointHandler().metadata(epath.Path(self._step_dir(step)) / "state")
        )
        restored = self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore())
        )
        return restored.state, restored.meta

    def _report_unreadable(self, failures: list[tuple[int, Exception]], used: int, set_aside: bool) -> None:
        for bad, error in failures:
            where = self._step_dir(bad)
            if set_aside:
                moved = _free_name(where + ".unreadable")
                if jax.process_index() == 0:
                    os.rename(where, moved)
                kept = f"moved to {moved} (delete it once you have looked at it)"
            else:
                kept = "left in place"
            print(f"warning: checkpoint {where} is unreadable ({_one_line(error)}); {kept}", file=sys.stderr)
        print(f"warning: restoring the newest readable checkpoint, {self._step_dir(used)}", file=sys.stderr)
        if set_aside:
            if jax.process_count() > 1:
                ocp.multihost.sync_global_processes("snnjax_set_aside_unreadable")
            self._manager.reload()

    def wait(self) -> None:
        """Blocks until every started save is finalised on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Waits for pending saves and releases the manager."""
        self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


STEP_KEY = "_step"  # added to a checkpoint's metrics: the later of two equal figures wins


def _is_nan(value: Any) -> bool:
    """Whether ``value`` is a float NaN (a NaN figure never wins: :mod:`snnjax.tool.best_evaluation`)."""
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def best_rank(metrics: Mapping[str, Any], *, best_metric: str, higher_is_better: bool) -> tuple[float, int]:
    """The sort key under which the best checkpoint comes last (orbax's ``BestN`` keeps the last of
    an ascending sort, ``best_step`` returns it), by :func:`snnjax.tool.best_evaluation.improves`:

    - a better figure ranks higher (``-value`` when lower is better);
    - a NaN ranks below every number (it never wins over one);
    - between equal figures the later step ranks higher (a tie goes to the later evaluation).

    A checkpoint written before the step was stored with its metrics ranks as step -1 (orbax's
    stable sort then keeps the checkpoints' own order, oldest first).
    """
    value = float(metrics[best_metric])
    figure = -math.inf if math.isnan(value) else (value if higher_is_better else -value)
    return figure, int(metrics.get(STEP_KEY, -1))


class CheckpointError(ValueError):
    """A checkpoint exists but cannot be read (damaged files, or none readable at all)."""


def _one_line(error: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message``, cut to ``limit`` characters (orbax errors run long)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _free_name(path: str) -> str:
    """``path``, or ``path.2``, ``path.3``, ... if taken (an earlier set-aside is never overwritten)."""
    candidate, n = path, 1
    while os.path.exists(candidate):
        n += 1
        candidate = f"{path}.{n}"
    return candidate


def _on_default_device(metadata: Any) -> PyTree:
    """The saved tree's ``jax.ShapeDtypeStruct``s, placed on the current default device.

    Restoring without a target would use the saved shardings, which name the devices of the run
    that saved them (orbax: "Topology mismatch" on another machine or device count).
    """
    tree = getattr(metadata, "item_metadata", metadata)  # StepMetadata (newer orbax) or the tree
    tree = getattr(tree, "tree", tree)
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])

    def leaf(x):
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            return jax.ShapeDtypeStruct(tuple(x.shape), x.dtype, sharding=device)
        return x

    return jax.tree.map(leaf, tree)


class _NoMetricsWarning(logging.Filter):
    """orbax warns at every save without metrics once a best metric is tracked; most saves have none
    by design (mid-epoch checkpoints), so that line is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "did not provide metrics" not in record.getMessage()


logging.getLogger("absl").addFilter(_NoMetricsWarning())


def _abstract(tree: PyTree) -> PyTree:
    """``jax.ShapeDtypeStruct`` (with sharding) for array leaves; other leaves are kept."""

    def leaf(x):
        if isinstance(x, (jax.Array, np.ndarray, jax.ShapeDtypeStruct)):
            return ocp.utils.to_shape_dtype_struct(x)
        return x

    return jax.tree.map(leaf, tree)


def is_finite_tree(tree: PyTree) -> bool:
    """True when every floating-point leaf of ``tree`` is free of NaN and infinity.

    Integer, boolean and non-numeric leaves are ignored. Used by the training loop's NaN guard
    before a checkpoint is written.
    """
    checks = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree.leaves(tree)
        if isinstance(x, (float, jax.Array, np.ndarray, np.floating)) and jnp.issubdtype(jnp.result_type(x), jnp.inexact)
    ]
    # One reduction, one device-to-host transfer.
    return bool(jnp.all(jnp.stack(checks))) if checks else True
