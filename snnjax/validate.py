"""Config checks that run before anything is compiled, with messages that say what to do.

Three stages, in the order the training job meets them:

1. :func:`parse_flags`: the command line. A ``--config.<key>=value`` for a key the config does not
   have (``--config.train.batchsize=3``) is an error naming the key, not a traceback.
2. :func:`check_config`: the config alone: known section and key names, names that pick from a
   registry (dataset, model, loss, optimizer, schedule, neuron, surrogate, encoder...), ranges
   (``time_steps >= 1``, ``val_fraction`` in [0, 1), a positive length...), and the batch sizes
   against the number of devices.
3. :func:`check_with_data`: what needs the loaded dataset: the batch against the training-set size,
   the loss against the task, the spec against the number of classes, and building the model.

Every stage collects all the problems it finds and raises one :class:`ConfigError` listing them.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable, Sequence

import ml_collections

from snnjax import data as data_lib
from snnjax import losses, optim, surrogate
from snnjax.config import base_config
from snnjax.errors import ConfigError  # defined there; validate.ConfigError stays the same class
from snnjax.layers import encoders
from snnjax.layers.spiking import NEURON_KINDS
from snnjax.models import MODELS, build_model
from snnjax.models.output import READOUTS

# Which losses make sense for which task (snnjax.data.Dataset.task).
LOSSES_FOR_TASK = {
    "classification": ("mse_rate", "cross_entropy", "ce_rate", "ce_count", "mse_count", "tet", "mse_membrane",
                       "ce_max_membrane"),
    "sequence_classification": ("cross_entropy",),
    "regression": ("mse_regression",),
}


def _fail(problems: Sequence[str]) -> None:
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"the config has {len(problems)} problem(s):\n{lines}")


def _choice(problems: list[str], key: str, value, choices: Sequence[str]) -> None:
    if value not in choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"{key}={value!r} is unknown{hint}; choose one of {sorted(choices)}")


# --------------------------------------------------------------------------- command line


def parse_flags(argv: list[str]) -> list[str]:
    """``absl.app.run``'s ``flags_parser`` with a clear message for unknown ``--config.*`` keys.

    ml_collections raises a ``KeyError``/``AttributeError`` from deep inside flag parsing when an
    override names a key the (locked) config lacks; this turns it into one line naming the flag.
    """
    from absl import flags

    config_arg = _config_arg(argv)
    if config_arg is not None:
        config_file = config_arg.split(":", 1)[0]
        if not os.path.isfile(config_file):
            sys.exit(f"error: config file {config_file} not found (looked in {os.getcwd()}); give the path of an "
                     "experiment config, e.g. --config configs/smoke.py (configs/README.md lists them)")
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        text = str(error)
        if "Error whilst parsing config file" in text:  # get_config raised: its last line says why
            reason = [line for line in text.splitlines() if line.strip()][-1].strip()
            sys.exit(f"error: --config {config_arg}: {reason}")
        sys.exit(f"FATAL Flags parsing error: {error}\nPass --helpshort or --helpfull to see help on flags.")
    except (KeyError, AttributeError) as error:
        inner = error
        while isinstance(inner, (KeyError, AttributeError)) and inner.args:  # AttributeError(KeyError(msg))
            inner = inner.args[0]
        message = str(inner).replace("\n", " ")
        overrides = [a.split("=", 1)[0] for a in argv[1:] if a.startswith("--config.")]
        name = message.split("'")[1] if message.count("'") >= 2 else ""
        bad = [o for o in overrides if name and name in o.split(".")] or overrides
        sys.exit(
            f"error: unknown config key in {', '.join(bad) or 'the --config overrides'}: {message}\n"
            "Overrides can only set keys the config file defines (see snnjax/config.py for all keys)."
        )


def _config_arg(argv: list[str]) -> str | None:
    """The value of ``--config`` (``--config=x`` or ``--config x``) in ``argv``, or ``None``."""
    for i, arg in enumerate(argv[1:], start=1):
        if arg.startswith("--config="):
            return arg[len("--config="):]
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
    return None


# --------------------------------------------------------------------------- the config alone


def _flat_keys(cfg: ml_collections.ConfigDict, prefix: str = "") -> set[str]:
    keys = set()
    for k, v in cfg.items():
        path = f"{prefix}{k}"
        keys.add(path)
        if isinstance(v, ml_collections.ConfigDict) and k != "neuron":
            keys |= _flat_keys(v, path + ".")
    return keys


def _check_keys(config: ml_collections.ConfigDict, problems: list[str]) -> None:
    """Keys the library does not know would be silently ignored: refuse them."""
    known = _flat_keys(base_config())
    for key in sorted(_flat_keys(config) - known):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append(f"unknown config key {key!r}{hint} (all keys: snnjax/config.py)")
    for key in sorted(k for k in known - _flat_keys(config) if "." in k):
        if key.split(".")[0] in config:
            problems.append(f"config key {key!r} is missing; start configs from snnjax.config.base_config()")
    neuron = config.get("model", {}).get("neuron", None)
    if neuron is not None:
        fields = set(base_config().model.neuron.keys())
        for key in sorted(set(neuron.keys()) - fields):
            problems.append(f"unknown config key 'model.neuron.{key}'; known: {sorted(fields)}")


def _check_global_batch(problems: list[str], name: str, size: int, num_devices: int) -> None:
    """A global batch must be positive and split evenly over the devices."""
    if size < 1:
        problems.append(f"{name}={size} must be >= 1")
    elif size % num_devices:
        problems.append(
            f"{name}={size} must be divisible by the {num_devices} devices the global batch is split "
            f"over; use a multiple of {num_devices}, e.g. {max(num_devices, size // num_devices * num_devices)}"
        )


def check_config(config: ml_collections.ConfigDict, num_devices: int = 1) -> None:
    """Checks what can be checked without data: names, ranges, batch sizes against devices.

    Args:
        config: the full training config (sections data, model, optim, train, loss).
        num_devices: devices the global batch is split over.

    Raises:
        ConfigError: listing every problem found.
    """
    problems: list[str] = []
    sections = ("data", "model", "optim", "train", "loss")
    missing = [s for s in sections if s not in config]
    if missing:
        _fail([f"config section(s) {missing} missing; start configs from snnjax.config.base_config()"])
    _check_keys(config, problems)
    d, m, o, t, lo = (config[s] for s in sections)

    _choice(problems, "data.name", d.name, data_lib.names())
    if not 0.0 <= float(d.val_fraction) < 1.0:
        problems.append(f"data.val_fraction={d.val_fraction} must be in [0, 1) (0 = no validation split)")

    _choice(problems, "model.arch", m.arch, sorted(MODELS))
    _choice(problems, "model.encoder", m.encoder, encoders.ENCODERS)
    _choice(problems, "model.readout", m.readout, READOUTS)
    if int(m.time_steps) < 1:
        problems.append(f"model.time_steps={m.time_steps} must be >= 1 (T, the simulation steps per example)")
    _choice(problems, "model.neuron.kind", m.neuron.get("kind"), NEURON_KINDS)
    _choice(problems, "model.neuron.surrogate", m.neuron.get("surrogate"), sorted(surrogate.SURROGATES))

    _choice(problems, "optim.name", o.name, optim.OPTIMIZERS)
    _choice(problems, "optim.schedule", o.schedule, optim.SCHEDULES)
    if not float(o.learning_rate) > 0.0:
        problems.append(f"optim.learning_rate={o.learning_rate} must be > 0")
    if o.grad_clip_norm is not None and float(o.grad_clip_norm) < 0.0:
        problems.append(f"optim.grad_clip_norm={o.grad_clip_norm} must be >= 0 (0 = no clipping)")

    _choice(problems, "loss.name", lo.name, sorted(losses.LOSSES))
    _choice(problems, "loss.reduction", lo.reduction, ("mean", "sum"))
    problems.extend(p for p in losses.config_problems(lo)
                    if not p.startswith(("loss.name=", "loss.reduction=")))  # those two: checked above

    for key in ("batch_size", "eval_batch_size"):
        _check_global_batch(problems, f"train.{key}", int(t[key]), num_devices)
    if int(t.num_steps) < 0:
        problems.append(f"train.num_steps={t.num_steps} must be >= 0 (0 = train for num_epochs)")
    if int(t.num_steps) == 0 and not float(t.num_epochs) > 0.0:
        problems.append(
            f"train.num_epochs={t.num_epochs} must be > 0 when train.num_steps=0 "
            "(set one of them: --config.train.num_epochs=10 or --config.train.num_steps=1000)"
        )
    for key in ("eval_every_epochs", "log_every_steps"):
        if int(t[key]) < 1:
            problems.append(f"train.{key}={t[key]} must be >= 1")
    if int(t.checkpoint_every_steps) < 0:
        problems.append(f"train.checkpoint_every_steps={t.checkpoint_every_steps} must be >= 0 (0 = at epoch ends only)")
    if int(t.max_checkpoints) < 1:
        problems.append(f"train.max_checkpoints={t.max_checkpoints} must be >= 1")
    _fail(problems)


# --------------------------------------------------------------------------- config and data


def check_with_data(
    config: ml_collections.ConfigDict,
    dataset: data_lib.Dataset,
    build: Callable[[ml_collections.ConfigDict, int], object] = build_model,
):
    """Checks the config against the loaded dataset and builds the model (no tracing).

    Returns:
        The model, ``build(config.model, dataset.num_classes)``.

    Raises:
        ConfigError: listing every problem found.
    """
    problems: list[str] = []
    t = config.train
    n_train = dataset.train.num_examples
    if int(t.batch_size) > n_train:
        problems.append(
            f"train.batch_size={t.batch_size} is larger than the {n_train} training examples of "
            f"{dataset.name!r}; use --config.train.batch_size={n_train} or less"
        )
    allowed = LOSSES_FOR_TASK[dataset.task]
    if config.loss.name not in allowed:
        problems.append(
            f"loss.name={config.loss.name!r} does not fit the {dataset.task} task of {dataset.name!r}; "
            f"use one of {list(allowed)}"
        )
    if dataset.task == "sequence_classification" and config.model.readout != "per_step":
        problems.append(f"{dataset.name!r} has one label per step: set --config.model.readout=per_step")
    model = None
    try:
        model = build(config.model, dataset.num_classes)
    except (ValueError, TypeError) as error:
        problems.append(f"model: {error}")
    _fail(problems)
    return model
