"""Checkpoints of the training state plus the loop's position, on orbax's CheckpointManager.

Each checkpoint ``<directory>/<step>/`` holds two items written together:

- ``state``: the train-state pytree (``StandardSave``: arrays, optax state, integer step),
- ``meta``: a JSON dict with the loop's position (epoch, step in epoch, ...) (``JsonSave``).

orbax writes a checkpoint into a temporary directory and renames it into place only once it is
complete, so an interrupted save leaves every earlier checkpoint intact; the leftover temporary
directory is ignored by :meth:`Checkpointer.latest_step` and removed when a ``Checkpointer`` is next
opened on the directory. Old checkpoints are deleted only after a newer one is finalised, keeping
the latest ``max_to_keep`` and, with ``best_metric``, also the best checkpoint by that metric among
those saved with metrics (orbax's ``BestN`` preservation policy; :meth:`Checkpointer.best_step`).

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

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

PyTree = Any


class Checkpointer:
    """A thin wrapper over ``orbax.checkpoint.CheckpointManager`` (orbax-checkpoint >= 0.12.4).

    Args:
      directory: root directory of the step directories; created if missing.
      max_to_keep: how many of the newest checkpoints to keep; ``None`` keeps all.
      best_metric: also keep the checkpoint with the best value of this metric, among those saved
        with ``metrics`` (e.g. ``"validation_accuracy"``); ``None``: only the latest.
      best_mode: ``"max"`` or ``"min"``: which value of ``best_metric`` is best.
    """

    def __init__(self, directory: str | os.PathLike, max_to_keep: int | None = 3,
                 best_metric: str | None = None, best_mode: str = "max"):
        self.directory = os.path.abspath(os.fspath(directory))
        self.best_metric = best_metric
        # `max_to_keep=` is deprecated in favour of a preservation policy.
        policy = ocp.checkpoint_managers.LatestN(n=max_to_keep)
        best = {}
        if best_metric is not None:
            if best_mode not in ("max", "min"):
                raise ValueError(f"best_mode must be 'max' or 'min', got {best_mode!r}")
            policy = ocp.checkpoint_managers.AnyPreservationPolicy([policy, ocp.checkpoint_managers.BestN(
                get_metric_fn=lambda m: m[best_metric], reverse=best_mode == "min", n=1,
                keep_checkpoints_without_metrics=False)])
            # best_fn makes orbax read the metrics of existing checkpoints back when reopened.
            best = dict(best_fn=lambda m: m[best_metric], best_mode=best_mode)
        options = ocp.CheckpointManagerOptions(preservation_policy=policy, cleanup_tmp_directories=True,
                                               create=True, **best)
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
            right after an evaluation); ``None`` for the others.

        Returns:
          Whether a save was started: ``False`` (nothing written) when ``step`` is not newer than
          the latest checkpoint, e.g. saving again right after a restore.

        Raises:
          TypeError: ``meta`` is not JSON-able.
          ValueError: ``force=True`` and checkpoint ``step`` exists (orbax's
            ``StepAlreadyExistsError``), or ``state`` holds a leaf orbax cannot save; earlier
            checkpoints are untouched.
        """
        meta = dict(meta)
        json.dumps(meta)  # fail now, not in orbax's background thread
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        return self._manager.save(int(step), args=args, force=force,
                                  metrics=None if metrics is None else dict(metrics))

    def best_step(self) -> int | None:
        """The kept checkpoint with the best ``best_metric`` (``None`` if none was saved with
        metrics, or without ``best_metric``)."""
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

    def restore(self, step: int | None = None, target: PyTree = None) -> tuple[PyTree, dict]:
        """Restores checkpoint ``step`` (default: the latest) into the structure of ``target``.

        Args:
          step: which checkpoint; ``None`` for the latest.
          target: a pytree like the saved state (concrete arrays or ``jax.ShapeDtypeStruct``s).
            Leaves are restored with its dtypes and shardings. ``None`` restores as saved, as
            NumPy/JAX arrays on the default device.

        Returns:
          ``(state, meta)``.

        Raises:
          FileNotFoundError: there is no checkpoint (at ``step``).
        """
        self.wait()
        if step is None:
            step = self.latest_step()
            if step is None:
                raise FileNotFoundError(f"no checkpoint in {self.directory}")
        elif step not in self._manager.all_steps():
            raise FileNotFoundError(f"no checkpoint for step {step} in {self.directory}")
        state_args = ocp.args.StandardRestore(None if target is None else _abstract(target))
        restored = self._manager.restore(
            int(step), args=ocp.args.Composite(state=state_args, meta=ocp.args.JsonRestore())
        )
        return restored.state, restored.meta

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
