"""Models built from ``config.model``: spec-string conv/dense SNNs and sequence SNNs.

``build_model(config.model, num_outputs)`` returns a Flax module called as
``model.apply(variables, x, train=..., rngs=...)`` on batch-major data, returning a
:class:`ModelOutput` (docs/design.md).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import flax.linen as nn
import ml_collections
from ml_collections import config_dict

from snnjax.nn.layers.spiking import NeuronConfig
from snnjax.nn.models.conv_net import ConvOptions, ConvSNN
from snnjax.nn.models.fold import fold_norms
from snnjax.core.output import READOUTS, ModelOutput, read_out
from snnjax.core.registry import Registry
from snnjax.nn.models.sequence_net import SCANS, SequenceSNN, SequenceState
from snnjax.nn.models.spec import Layer, parse_spec


def default_neuron_config() -> ml_collections.ConfigDict:
    """``config.model.neuron`` with every key of :class:`NeuronConfig` and its default.

    A key whose default is None (``surrogate_param``: the surrogate's own default) becomes a typed
    placeholder, ``config_dict.placeholder(float)``, as ``data.data_dir`` is: still None until set,
    written as ``null`` in ``config.json`` (so old runs read back and resume unchanged), and
    settable from the command line (``--config.model.neuron.surrogate_param=2.0``), which a plain
    None is not ("Type NoneType ... not supported for overriding").
    """
    values = {}
    for field in dataclasses.fields(NeuronConfig):
        value = getattr(NeuronConfig(), field.name)
        values[field.name] = config_dict.placeholder(_NONE_DEFAULT_TYPES[field.name]) if value is None else value
    return ml_collections.ConfigDict(values, type_safe=False)


# The type a None-default NeuronConfig option takes when set (its placeholder's type).
_NONE_DEFAULT_TYPES = {"surrogate_param": float}


def default_model_config() -> ml_collections.ConfigDict:
    """``config.model`` with every key and its default."""
    c = ml_collections.ConfigDict()
    c.arch = "conv"  # conv | sequence
    c.spec = "128c3-p2-128c3-p2-2048-100-10"
    c.hidden = (64, 152, 152)
    c.recurrent_layers = ()
    c.recurrent_init_scale = 1.0
    c.te_init_mean = 0.01
    c.te_init_std = 0.01
    c.time_steps = 8
    c.encoder = "direct"
    c.readout = "mean"
    c.permutation_seed = 0
    c.neuron = default_neuron_config()
    c.norm = "bn"
    c.llc_bn_alpha = 3.2
    c.llc_bn_leak = "shared"
    c.relu_before_neuron = False
    c.pool = "max"
    c.dropout = 0.5
    c.ossa = False
    c.ossa_form = "text"
    c.ossa_onset = "shared"
    c.ossa_attn_dropout = 0.0
    c.local_heads = "none"
    c.local_detach = False
    c.local_dropout = 0.5
    c.votes_per_class = 10
    # sequence nets: "layer" (per-layer scans), "step" (one scan of the whole net per step), or "auto":
    # "step" for eval on a CPU (faster there), "layer" otherwise; both compute the same function
    c.scan = "auto"
    c.readout_decay = 0.0  # > 0: a non-spiking leaky-integrator readout (Spyx LI)
    # sequence nets: rematerialise the per-step scan (0 off, 1 every step, k every k steps; picks scan "step")
    c.remat = 0
    # Switches for the authors' released nets (configs/*_code.py; docs/papers.md); defaults = text.
    c.trunk_calls = 1
    c.first_neuron = "shared"
    c.dense_bias = True
    c.norm_stats = "pooled"
    c.static_norm_updates = "once"
    c.dense_relu = False
    c.dropout_site = "spikes"
    c.conv_bias = False
    c.max_pool_impl = "auto"  # "argmax" (hand-written backward) on CPU, "xla" elsewhere; same gradients
    c.conv_impl = "auto"  # "canonical" on CPU (fast inside the device loop), "xla" elsewhere; or either
    return c


def _build_conv(cfg: ml_collections.ConfigDict, num_outputs: int) -> nn.Module:
    option_names = ConvOptions.__dataclass_fields__
    opts = ConvOptions(**{k: cfg[k] for k in option_names if k in cfg})
    return ConvSNN(
        layers=parse_spec(cfg.spec, num_outputs, default_pool=cfg.pool),
        num_classes=num_outputs,
        neuron=NeuronConfig.from_mapping(cfg.neuron),
        opts=opts,
    )


def _build_sequence(cfg: ml_collections.ConfigDict, num_outputs: int) -> nn.Module:
    if cfg.readout not in READOUTS:
        raise ValueError(f"model.readout must be one of {READOUTS}, got {cfg.readout!r}")
    if not 0.0 <= float(cfg.get("readout_decay", 0.0)) < 1.0:
        raise ValueError(f"model.readout_decay must be in [0, 1) (0 = linear readout), got {cfg.readout_decay}")
    if cfg.get("scan", "auto") not in SCANS:
        raise ValueError(f"model.scan must be one of {SCANS}, got {cfg.scan!r}")
    hidden = tuple(int(h) for h in cfg.hidden)
    bad = [i for i in cfg.recurrent_layers if not 0 <= i < len(hidden)]
    if bad:
        raise ValueError(f"model.recurrent_layers {bad} are not hidden layer indices 0..{len(hidden) - 1}")
    return SequenceSNN(
        hidden=hidden,
        num_outputs=num_outputs,
        neuron=NeuronConfig.from_mapping(cfg.neuron),
        encoder=cfg.encoder,
        time_steps=cfg.time_steps,
        recurrent_layers=tuple(cfg.recurrent_layers),
        recurrent_init_scale=float(cfg.recurrent_init_scale),
        te_init_mean=cfg.te_init_mean,
        te_init_std=cfg.te_init_std,
        readout=cfg.readout,
        permutation_seed=cfg.permutation_seed,
        scan=cfg.get("scan", "auto"),
        readout_decay=float(cfg.get("readout_decay", 0.0)),
        remat=int(cfg.get("remat", 0)),
    )


# model.arch -> builder(cfg.model, num_outputs); MODELS.register("name", builder) adds your own.
MODELS: Registry[Callable[[ml_collections.ConfigDict, int], nn.Module]] = Registry("model.arch", {
    "conv": _build_conv,
    "sequence": _build_sequence,
})


def build_model(cfg: ml_collections.ConfigDict, num_outputs: int) -> nn.Module:
    """The model named by ``cfg.arch``, with ``num_outputs`` classes (1 for regression)."""
    return MODELS.lookup(cfg.arch)(cfg, num_outputs)


__all__ = [
    "ConvOptions",
    "ConvSNN",
    "Layer",
    "MODELS",
    "ModelOutput",
    "SequenceSNN",
    "SequenceState",
    "build_model",
    "default_model_config",
    "default_neuron_config",
    "fold_norms",
    "parse_spec",
    "read_out",
]
