"""Reading a training run directory back: its config, dataset, model and trained variables.

A run directory (``train.py --workdir W``; its files are read and written by
:class:`snnjax.tool.run_directory.RunDirectory`) holds the config, orbax checkpoints, the metrics and,
when finished, the summary. The report, the NIR export and ``examples/evaluate_checkpoint.py`` all
start from :func:`load_run`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import flax.linen as nn
import ml_collections

from snnjax.io import data as data_lib
from snnjax.tool.config import base_config
from snnjax.nn.models import build_model
from snnjax.tool.run_directory import RunDirectory


@dataclasses.dataclass
class Run:
    """A loaded run: ``variables`` are ``{"params": ..., "batch_stats": ...}`` of the checkpoint ``step``."""

    workdir: Path
    config: ml_collections.ConfigDict
    model: nn.Module
    variables: dict[str, Any]
    step: int
    dataset: data_lib.Dataset | None


def load_config(workdir: str | Path) -> ml_collections.ConfigDict:
    """The run's saved config as a complete config (keys added since the run get their defaults).

    Raises:
        FileNotFoundError: ``workdir`` has no config (not a run directory).
        snnjax.tool.run_files.RunDirError: the config file is not valid JSON.
    """
    saved = RunDirectory(workdir).read_config()
    config = base_config()
    _update(config, saved)
    return config


def _update(config: ml_collections.ConfigDict, values: dict) -> None:
    for key, value in values.items():
        if key not in config:
            continue  # a key this version no longer has
        if isinstance(config[key], ml_collections.ConfigDict) and isinstance(value, dict):
            _update(config[key], value)
        else:
            with config.unlocked():
                config[key] = tuple(value) if isinstance(value, list) else value


def load_run(workdir: str | Path, step: int | None = None, with_data: bool = True) -> Run:
    """Loads a run's config, dataset (unless ``with_data=False``), model and checkpointed variables.

    ``step=None`` takes the newest readable checkpoint: an unreadable newer one is skipped with a
    warning and left in place (:meth:`snnjax.tool.checkpointing.Checkpointer.restore`). The variables
    land on the current default device, whatever devices trained the run.

    Raises ``FileNotFoundError`` naming what is missing (no config, no checkpoint), and
    ``snnjax.tool.checkpointing.CheckpointError`` when no checkpoint (or the given ``step``) is readable.
    """
    workdir = Path(workdir)
    run_dir = RunDirectory(workdir)
    config = load_config(workdir)
    dataset = data_lib.load(config.data) if with_data else None
    if not run_dir.checkpoints_path.is_dir():
        raise FileNotFoundError(f"no checkpoint in {run_dir.checkpoints_path}: the run saved none yet")
    with run_dir.checkpointer(read_only=True) as ckpt:
        if ckpt.latest_step() is None:
            raise FileNotFoundError(f"no checkpoint in {run_dir.checkpoints_path}: the run saved none yet")
        state, _ = ckpt.restore(step)  # step None: the newest readable one
    step = int(state["step"])
    variables = {"params": state["params"]}
    if state.get("batch_stats"):
        variables["batch_stats"] = state["batch_stats"]
    num_outputs = dataset.num_classes if dataset is not None else _num_outputs(config, variables["params"])
    return Run(workdir, config, build_model(config.model, num_outputs), variables, int(step), dataset)


def _num_outputs(config: ml_collections.ConfigDict, params: dict) -> int:
    """The model's output width, read off its spec (conv: the last token) or readout weights."""
    if config.model.arch == "sequence":
        return int(params["readout"]["kernel"].shape[-1])
    return int(re.sub(r"\D", "", config.model.spec.split("-")[-1]))
