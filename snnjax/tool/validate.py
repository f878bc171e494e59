"""Config checks that run before anything is compiled, with messages that say what to do.

Three stages, in the order the training job meets them:

1. :func:`parse_flags`: the command line. A ``--config.<key>=value`` for a key the config does not
   have (``--config.train.batchsize=3``) is an error naming the key, not a traceback.
2. :func:`check_config`: the config alone: known section and key names, names that pick from a
   registry (dataset, model, loss, optimizer, schedule, neuron, surrogate, encoder...), every
   number finite and every value that reaches arithmetic, an array shape, a random key or a file
   path in its range (:data:`RANGES`, seeds in [0, 2**63), sizes below 2**31, the spec string's
   tokens, a data folder name of at most 255 bytes), the neuron options the kind reads and its
   surrogate parameter (:class:`snnjax.layers.NeuronConfig`), the conv net's switches, and the
   batch sizes against the number of devices.
3. :func:`check_with_data`: what needs the loaded dataset: the batch against the training-set size,
   the loss against the task, the spec against the number of classes, and building the model.

Every stage collects all the problems it finds and raises one :class:`ConfigError` listing them.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence

import ml_collections

from snnjax.io import data as data_lib
from snnjax.core import losses
from snnjax.tool import optim
from snnjax.core import surrogate
from snnjax.tool.config import base_config
from snnjax.io.data.augment import AUGMENTATIONS
from snnjax.core.errors import ConfigError  # defined there; validate.ConfigError stays the same class
from snnjax.core import encoders
from snnjax.nn.layers.ossa import OSSA_FORMS
from snnjax.nn.layers.spiking import NEURON_KINDS, NeuronConfig
from snnjax.nn.models import MODELS, SCANS, build_model
from snnjax.nn.models.conv_net import ConvOptions
from snnjax.core.output import READOUTS
from snnjax.core.registry import choice_problem
from snnjax.tool.device_loop import LOOPS
from snnjax.nn.models.spec import POOLS, parse_spec


def _fail(problems: Sequence[str]) -> None:
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"the config has {len(problems)} problem(s):\n{lines}")


def _choice(problems: list[str], key: str, value, choices: Sequence[str]) -> None:
    problem = choice_problem(key, value, choices)
    if problem is not None:
        problems.append(problem)


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
            "Overrides can only set keys the config file defines (see snnjax/tool/config.py for all keys)."
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
        problems.append(f"unknown config key {key!r}{hint} (all keys: snnjax/tool/config.py)")
    for key in sorted(k for k in known - _flat_keys(config) if "." in k):
        if key.split(".")[0] in config:
            problems.append(f"config key {key!r} is missing; start configs from snnjax.tool.config.base_config()")
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


# --------------------------------------------------------------------------- values

NOT_FINITE = " must be a finite number"
INT_LIMIT = 2**31  # sizes, step counts and cadences: int32 on the device
SEED_LIMIT = 2**63  # seeds become jax.random.PRNGKey (int64) and NumPy Generator seeds (>= 0)
# Longest file or folder name most file systems take (POSIX NAME_MAX); a longer one fails deep in a save.
NAME_MAX = 255


def _numbers(node: ml_collections.ConfigDict, prefix: str = "") -> Iterator[tuple[str, int | float]]:
    """``(dotted key, value)`` of every number (bools excepted) and tuple of numbers in ``node``."""
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, ml_collections.ConfigDict):
            yield from _numbers(value, path + ".")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield path, value
        elif isinstance(value, (tuple, list)) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            for i, v in enumerate(value):
                yield f"{path}[{i}]", v


# Ranges of the numeric keys that reach arithmetic, array shapes or random keys: (key, low, high,
# low included, high included, what the key is). None: unbounded on that side.
RANGES = (
    ("data.seq_len", 1, None, True, True, "the sequence length T of the generated tasks"),
    ("data.num_train", 1, None, True, True, "the size of a generated training set"),
    ("data.num_test", 1, None, True, True, "the size of a generated test set"),
    ("data.time_bins", 1, None, True, True, "frames per neuromorphic recording"),
    ("data.num_classes", 2, None, True, True, "classes of the random set"),
    ("model.dropout", 0.0, 1.0, True, False, "a dropout rate"),
    ("model.local_dropout", 0.0, 1.0, True, False, "a dropout rate"),
    ("model.ossa_attn_dropout", 0.0, 1.0, True, False, "a dropout rate"),
    ("model.llc_bn_alpha", 0.0, None, False, True, "LLC-BN's scale"),
    ("model.readout_decay", 0.0, 1.0, True, False, "the readout leak (0 = linear readout)"),
    ("model.remat", 0, None, True, True, "steps between stored states of the per-step scan (0 = off)"),
    ("model.recurrent_init_scale", 0.0, None, True, True, "a weight scale"),
    ("model.te_init_std", 0.0, None, True, True, "a standard deviation"),
    ("model.votes_per_class", 1, None, True, True, "voting neurons per class"),
    ("model.neuron.decay", 0.0, 1.0, True, True, "a leak factor"),
    ("model.neuron.syn_decay", 0.0, 1.0, True, True, "a leak factor"),
    ("model.neuron.rho", 0.0, 1.0, True, True, "a threshold decay"),
    ("model.neuron.v_th", 0.0, None, False, True, "the firing threshold"),
    ("model.neuron.beta", 0.0, None, True, True, "an adaptation strength"),
    ("model.neuron.bpta_alpha", 0.0, None, True, True, "the BPTA coefficient (0 = off)"),
    ("model.neuron.init_tau", 1.0, None, False, True, "PLIF's initial time constant in steps"),
    ("optim.b1", 0.0, 1.0, True, False, "Adam's first-moment decay"),
    ("optim.b2", 0.0, 1.0, True, False, "Adam's second-moment decay"),
    ("optim.eps", 0.0, None, False, True, "Adam's epsilon"),
    ("optim.momentum", 0.0, 1.0, True, False, "SGD's momentum"),
    ("optim.weight_decay", 0.0, None, True, True, "a weight decay"),
    ("optim.min_lr", 0.0, None, True, True, "a learning rate"),
    ("optim.warmup_init_lr", 0.0, None, True, True, "a learning rate"),
    ("optim.warmup_epochs", 0.0, None, True, True, "a number of epochs"),
    ("optim.cosine_epochs", 0.0, None, True, True, "a number of epochs (0 = the whole run)"),
    ("optim.sgdr_period_epochs", 0.0, None, False, True, "SGDR's first period in epochs"),
    ("optim.sgdr_mult", 1.0, None, True, True, "SGDR's period multiplier"),
    ("loss.local_weight", 0.0, None, True, True, "a loss weight"),
    ("train.steps_per_call", 1, None, True, True, "optimiser steps per dispatch"),
    ("train.tbptt_steps", 0, None, True, True, "steps per truncated-BPTT chunk (0 = full BPTT)"),
)


def _in_range(value: float, low, high, low_in: bool, high_in: bool) -> bool:
    if low is not None and (value < low or (value == low and not low_in)):
        return False
    return high is None or value < high or (value == high and high_in)


def _range_text(low, high, low_in: bool, high_in: bool) -> str:
    if high is None:
        return f"{'>=' if low_in else '>'} {low}"
    return f"in {'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"


def _check_values(config: ml_collections.ConfigDict, problems: list[str]) -> None:
    """Every number finite and in its range, seeds usable, sizes positive, paths of a usable length.

    Each of these used to end in a raw traceback deep inside a run (an infinite ``num_epochs`` in
    ``int()``, a seed beyond int64 in ``PRNGKey``, a spec ``16c0`` in a division by zero) or,
    worse, in a run that trains on NaN; each is one line here, naming the key and what to give.
    """
    seeds = ("data.seed", "train.seed", "model.permutation_seed")
    for key, value in _numbers(config):
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{key}={value}{NOT_FINITE}")
        elif isinstance(value, int) and key not in seeds and abs(value) >= INT_LIMIT:
            problems.append(f"{key}={value} must be below 2**31 (sizes, steps and counts are int32 on the device)")
    flat = dict(_numbers(config))
    for key, low, high, low_in, high_in, what in RANGES:
        value = flat.get(key)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            continue  # absent, None (a default), or already reported as not finite
        if not _in_range(value, low, high, low_in, high_in):
            problems.append(f"{key}={value} must be {_range_text(low, high, low_in, high_in)} ({what})")
    for key in seeds:
        value = flat.get(key)
        if value is not None and not 0 <= value < SEED_LIMIT:
            problems.append(f"{key}={value} must be an integer in [0, 2**63) (it seeds the random numbers)")
    d, m = config.data, config.model
    shape = tuple(d.get("shape", ()) or ())
    if not shape or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in shape):
        problems.append(f"data.shape={shape} must be a non-empty tuple of sizes >= 1 (the random set's example shape)")
    hidden = tuple(m.get("hidden", ()) or ())
    if not hidden or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in hidden):
        problems.append(f"model.hidden={hidden} must be a non-empty tuple of layer widths >= 1, e.g. (64, 152, 152)")
    for i in tuple(m.get("recurrent_layers", ()) or ()):
        if not isinstance(i, int) or not 0 <= i < max(len(hidden), 1):
            problems.append(f"model.recurrent_layers contains {i}: give indices of model.hidden, 0..{len(hidden) - 1}")
    _choice(problems, "data.augment", d.get("augment"), AUGMENTATIONS)
    data_dir = d.get("data_dir")
    if data_dir is not None:
        long_parts = [part for part in str(data_dir).split(os.sep) if len(part.encode()) > NAME_MAX]
        if not str(data_dir).strip():
            problems.append("data.data_dir='' is empty: give a folder, or leave it unset to search the usual places")
        elif long_parts:
            problems.append(f"data.data_dir has a folder name of {len(long_parts[0].encode())} bytes; file systems "
                            f"take at most {NAME_MAX}: give a shorter path")
    if m.get("arch") == "conv":
        try:
            parse_spec(m.spec, None, default_pool=m.pool if m.get("pool", "max") in POOLS else "max")
        except ValueError as error:
            problems.append(f"model.spec: {error}")
    _choice(problems, "model.scan", m.get("scan", "auto"), SCANS)
    if m.get("remat", 0) and (m.get("arch") != "sequence" or m.get("scan", "auto") == "layer"):
        problems.append(f"model.remat={m.remat} rematerialises a sequence net's per-step scan (model.scan='step' or 'auto'); "
                        "for per-layer loops and conv nets set model.neuron.remat=k instead")
    if m.get("pool", "max") not in POOLS:
        problems.append(f"model.pool={m.pool!r} must be one of {list(POOLS)} (what 'p2' in the spec means)")


def _once_per_key(problems: list[str]) -> list[str]:
    """The first problem found for each config key (a NaN fails its range check too, and the conv
    net's own checks repeat some ranges), so that each key is reported in one line."""
    seen, kept = set(), []
    for problem in problems:
        key = re.match(r"^((?:data|model|optim|train|loss)\.[\w.]+)", problem)
        if key is None or key.group(1) not in seen:
            kept.append(problem)
        if key is not None:
            seen.add(key.group(1))
    return kept


def _check_neuron(neuron: ml_collections.ConfigDict, problems: list[str]) -> None:
    """``config.model.neuron`` as :class:`NeuronConfig` checks it: options the kind does not read,
    a surrogate parameter <= 0, reset and impl names... (kind and surrogate names: checked apart)."""
    if neuron.get("kind") not in NEURON_KINDS or neuron.get("surrogate") not in surrogate.SURROGATES:
        return
    try:
        NeuronConfig.from_mapping(neuron)
    except (ValueError, TypeError) as error:
        problems.append(f"model.neuron: {error}")


def _check_model_options(model: ml_collections.ConfigDict, problems: list[str]) -> None:
    """The conv net's switches (:class:`ConvOptions` checks them), before the data are loaded."""
    if model.get("arch") != "conv":
        return
    try:
        ConvOptions(**{k: model[k] for k in ConvOptions.__dataclass_fields__ if k in model})
    except (ValueError, TypeError) as error:
        problems.append(f"{error}")
    if model.get("ossa_form") not in OSSA_FORMS:
        problems.append(f"model.ossa_form={model.get('ossa_form')!r} must be one of {list(OSSA_FORMS)}")


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
        _fail([f"config section(s) {missing} missing; start configs from snnjax.tool.config.base_config()"])
    _check_keys(config, problems)
    d, m, o, t, lo = (config[s] for s in sections)
    _check_values(config, problems)

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
    _check_neuron(m.neuron, problems)
    _check_model_options(m, problems)

    _choice(problems, "optim.name", o.name, optim.OPTIMIZERS)
    _choice(problems, "optim.schedule", o.schedule, optim.SCHEDULES)
    _choice(problems, "train.loop", t.get("loop", "auto"), LOOPS)
    if not float(o.learning_rate) > 0.0:
        problems.append(f"optim.learning_rate={o.learning_rate} must be > 0")
    if o.grad_clip_norm is not None and float(o.grad_clip_norm) < 0.0:
        problems.append(f"optim.grad_clip_norm={o.grad_clip_norm} must be >= 0 (0 = no clipping)")

    problems.extend(losses.config_problems(lo))  # the loss section's one owner

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
    if t.get("tbptt_steps", 0) and m.arch != "sequence":
        problems.append(f"train.tbptt_steps={t.tbptt_steps} needs a model that carries its state between chunks "
                        "(model.arch='sequence'); set it to 0 for this model")
    _fail(_once_per_key(problems))


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
    allowed = losses.LOSSES_FOR_TASK[dataset.task]
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
