"""Comparing a resumed run's config with the one its workdir was trained under, and the records of
the history of the configs a run directory was trained under (its file is
:attr:`snnjax.tool.run_directory.RunDirectory.CONFIG_HISTORY`, read by
:meth:`~snnjax.tool.run_directory.RunDirectory.config_at`)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ml_collections
from flax import traverse_util

from snnjax.core.errors import ConfigError

# Keys a resumed run may change: how long it runs and how often it reports, not what it computes.
RESUMABLE_KEYS = frozenset({
    "train.num_epochs", "train.num_steps", "train.eval_every_epochs", "train.checkpoint_every_steps",
    "train.log_every_steps", "train.max_checkpoints", "train.eval_batch_size", "data.data_dir",
    "train.loop", "train.steps_per_call",  # where the loop runs, not what it computes
    "model.neuron.unroll",  # how the time loop is compiled: the same maths (equal to float rounding)
    "model.scan",  # the sequence nets' schedule (per layer or per step): the same function
})


def _flat_config(config: ml_collections.ConfigDict | Mapping) -> dict[str, Any]:
    values = json.loads(config.to_json_best_effort()) if isinstance(config, ml_collections.ConfigDict) else config
    return traverse_util.flatten_dict(values, sep=".")


def config_changes(saved: Mapping, config: ml_collections.ConfigDict) -> list[str]:
    """Every key whose value differs between a saved config and ``config``, as readable lines."""
    old, new = _flat_config(dict(saved)), _flat_config(config)
    return [f"{k}: {old.get(k, '<absent>')!r} (saved) -> {new.get(k, '<absent>')!r} (now)"
            for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def append_config_history(path: Path, step: int, config: ml_collections.ConfigDict, changes: list[str]) -> None:
    """Appends one record to the config history at ``path``: from ``step`` on, the run trains under
    ``config`` (``changes``: what differs from the config it was trained under before). Callers go
    through :meth:`snnjax.tool.run_directory.RunDirectory.append_config_history`."""
    from snnjax.tool import run_files  # here, not at the top: the import block is shared with other changes

    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    record = {"from_step": int(step), "time": now, "changes": changes, "config": json.loads(config.to_json_best_effort())}
    with run_files.append_owned(path) as f:  # never through a link
        f.write(json.dumps(record) + "\n")


def _added_at_default(key: str, old: Mapping, new: Mapping, defaults: Mapping) -> bool:
    """A key that a newer snnjax added, at its default: the run computes what it computed before
    (every new key's default is the behaviour from before the key existed)."""
    return key not in old and key in defaults and new.get(key) == defaults[key]


def check_resumed_config(saved: Mapping, config: ml_collections.ConfigDict, allow_change: bool) -> list[str]:
    """Differences between a workdir's saved config and ``config`` outside :data:`RESUMABLE_KEYS`.

    A key missing from the saved config (added to snnjax after the run started) is no difference
    when it is at its default value.

    Raises:
        ConfigError: there are differences and ``allow_change`` is False.
    """
    from snnjax.tool.config import base_config  # imported here: snnjax.tool.config imports the model configs

    old, new = _flat_config(dict(saved)), _flat_config(config)
    defaults = _flat_config(base_config())
    diffs = [f"{k}: {old.get(k, '<absent>')!r} (saved) -> {new.get(k, '<absent>')!r} (now)"
             for k in sorted(set(old) | set(new))
             if old.get(k) != new.get(k) and k not in RESUMABLE_KEYS and not _added_at_default(k, old, new, defaults)]
    if diffs and not allow_change:
        raise ConfigError(
            "the workdir holds a checkpoint of a run with a different config:\n  " + "\n  ".join(diffs)
            + "\nUse a new --workdir, or pass --allow_config_change to resume it with the new config anyway "
            "(only length and cadence keys may change freely: " + ", ".join(sorted(RESUMABLE_KEYS)) + ")."
        )
    return diffs

