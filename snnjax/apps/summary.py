"""Prints a model as a table of its layers: module path, output shapes, parameters.

    python -m snnjax.summary smoke
    python -m snnjax.summary ce_lif_seq_mnist:88
    python -m snnjax.summary path/to/my_config.py --config.model.spec=32c3-p2-64c3-p2-200-10

The config is named as ``snnjax-train --config`` takes it: a packaged config's ``name[:arg]`` or a
config file's ``path[:arg]`` (:mod:`snnjax.tool.config_files`), with the same ``--config.*`` overrides.

The model is traced abstractly (``jax.eval_shape``) on one example: nothing is compiled or run, so
even a CE-LIF net over the 784 steps of Seq-MNIST is summarised in a second. Shapes are time-major
``[T, B, ...]`` with ``B = 1``. The table's last line is the total number of trainable parameters.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
from flax import traverse_util

from snnjax.io import data as data_lib
from snnjax.tool import validate

# Shapes of the datasets whose files may be absent where a summary is wanted.
KNOWN_DATASETS = {
    "mnist": ((28, 28, 1), 10),
    "fashion_mnist": ((28, 28, 1), 10),
    "cifar10": ((32, 32, 3), 10),
}


@dataclasses.dataclass
class Row:
    """One module call: its path (``conv0/conv``), class name, output shapes and own parameters."""

    path: str
    module: str
    outputs: str
    params: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)

    @property
    def num_params(self) -> int:
        return sum(math.prod(shape) for shape in self.params.values())


def dataset_shape(data_cfg: ml_collections.ConfigDict) -> tuple[tuple[int, ...], int, str]:
    """``(input_shape, num_classes, note)`` of ``config.data``: from the dataset when it loads, else
    from the known shapes of datasets whose files are missing here."""
    try:
        dataset = data_lib.load(data_cfg)
        return tuple(dataset.input_shape), dataset.num_classes, ""
    except data_lib.DataNotFoundError:
        from snnjax.io.data.neuromorphic import EVENT_SETS

        if data_cfg.name in KNOWN_DATASETS:
            shape, classes = KNOWN_DATASETS[data_cfg.name]
        elif data_cfg.name in EVENT_SETS:
            spec = EVENT_SETS[data_cfg.name]
            width, height, polarities = spec.sensor_size
            shape, classes = (int(data_cfg.time_bins), height, width, polarities), spec.num_classes
        else:
            raise
        return shape, classes, f" (data files not found here; shapes of {data_cfg.name} assumed)"


def _shapes(tree: Any) -> str:
    """``float32[4,1,10]`` for each array in ``tree``, comma-separated."""
    leaves = jax.tree.leaves(tree)
    return ", ".join(f"{x.dtype}[{','.join(map(str, x.shape))}]" for x in leaves if hasattr(x, "shape"))


def layer_rows(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[list[Row], dict]:
    """Traces ``model`` abstractly on one example; returns a row per module call and the variables
    (``jax.ShapeDtypeStruct`` leaves)."""
    calls: list[Row | None] = []

    def record(next_fun, args, kwargs, context):
        if context.method_name != "__call__":
            return next_fun(*args, **kwargs)
        index = len(calls)
        calls.append(None)  # reserve the slot: rows in call order, parents before children
        out = next_fun(*args, **kwargs)
        path = "/".join(context.module.scope.path) if context.module.scope is not None else ""
        calls[index] = Row(path or "(model)", type(context.module).__name__, _shapes(out))
        return out

    def init(x):
        keys = jax.random.split(jax.random.PRNGKey(0), 3)
        with nn.intercept_methods(record):
            return model.init({"params": keys[0], "dropout": keys[1], "encoder": keys[2]}, x, train=False)

    variables = jax.eval_shape(init, jax.ShapeDtypeStruct((1, *input_shape), jnp.float32))
    rows = [r for r in calls if r is not None]
    by_path = {r.path: r for r in rows}
    for key, leaf in traverse_util.flatten_dict(variables.get("params", {})).items():
        owner = by_path.get("/".join(key[:-1]) or "(model)")
        if owner is None:  # a parameter of a module never called through __call__
            owner = Row("/".join(key[:-1]), "", "")
            rows.append(owner)
            by_path[owner.path] = owner
        owner.params[key[-1]] = tuple(leaf.shape)
    return rows, variables


def format_table(rows: list[Row], variables: dict, title: str) -> str:
    """The rows as a text table, then the non-trainable count, then the total on the last line."""
    header = ("path", "module", "output", "params", "shapes")
    body = [(r.path, r.module, r.outputs, f"{r.num_params:,}" if r.params else "",
             " ".join(f"{k}[{','.join(map(str, s))}]" for k, s in sorted(r.params.items())))
            for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def fmt(line):
        cells = [c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))]
        return "  ".join(cells).rstrip()

    total = sum(math.prod(x.shape) for x in jax.tree.leaves(variables.get("params", {})))
    stats = sum(math.prod(x.shape) for x in jax.tree.leaves(variables.get("batch_stats", {})))
    lines = [title, fmt(header), "  ".join("-" * w for w in widths), *map(fmt, body), ""]
    if stats:
        lines.append(f"Batch statistics (not trained): {stats:,}")
    lines.append(f"Total parameters: {total:,}")
    return "\n".join(lines)


def summarize(config: ml_collections.ConfigDict) -> str:
    """The table for ``config``'s model on its dataset's input shape (checks the config first)."""
    validate.check_config(config, num_devices=1)
    input_shape, num_classes, note = dataset_shape(config.data)
    from snnjax.nn.models import build_model

    try:
        model = build_model(config.model, num_classes)
    except (ValueError, TypeError) as error:
        raise validate.ConfigError(f"model: {error}") from error
    rows, variables = layer_rows(model, input_shape)
    title = (f"{type(model).__name__} on {config.data.name} examples of shape {list(input_shape)}, "
             f"{num_classes} output(s){note}; shapes are [T, B, ...] with B = 1")
    return format_table(rows, variables, title)


def main(argv: list[str]) -> None:
    from absl import flags, logging

    if len(argv) > 1:
        raise SystemExit(f"unexpected arguments: {argv[1:]}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    try:
        print(summarize(_CONFIG.value))
    except (validate.ConfigError, data_lib.DataNotFoundError) as error:
        sys.exit(f"error ({type(error).__name__}): {error}")


if __name__ == "__main__":
    from absl import app
    from ml_collections import config_flags

    from snnjax.tool import config_files

    _CONFIG = config_flags.DEFINE_config_file(
        "config", None, "Experiment config: a packaged config's name[:arg] or a config file's path[:arg].",
        lock_config=True)
    # The config is the first positional argument: python -m snnjax.summary smoke
    args = sys.argv[:1] + [f"--config={sys.argv[1]}"] + sys.argv[2:] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else sys.argv
    app.run(main, argv=args, flags_parser=config_files.parse_flags)
