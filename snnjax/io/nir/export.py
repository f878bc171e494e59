"""NIR export: a trained ``ConvSNN`` as a ``nir.NIRGraph`` (save it with ``nir.write(path, graph)``).

The neuron mapping, the time step (:data:`~snnjax.nir.mapping.DEFAULT_DT` = 1e-4 s, written to
``metadata["dt"]``) and the threshold rule are in :mod:`snnjax.nir.mapping`; docs/nir.md says which
peer reads which file.

Layouts
-------
NIR follows PyTorch: per-example tensors are ``[C, H, W]``, conv weights ``[C_out, C_in, kH, kW]``,
``Affine`` weights ``[N_out, N_in]``, types exclude the batch axis (``Flatten(start_dim=0)`` flattens
a whole example in C, H, W order). snnjax is NHWC / HWIO with an H, W, C flatten, so the export
transposes the conv kernels and permutes the input columns of the first dense layer.

What the export writes
----------------------
Only what is declared exportable; every other setting with a non-default value is refused by name.

* Neuron kinds: those whose :class:`~snnjax.core.neurons.NeuronKind` declares a NIR form
  (``nir_options``, ``nir_leak``; :func:`~snnjax.io.nir.mapping.neuron_problems`): ``lif`` and
  ``llc_lif`` (→ ``LIF``, or ``IF`` for a leak of exactly 1) and ``if`` (→ ``IF``), each with the
  options its form carries; hard reset only. Options that do not change the forward pass
  (:data:`~snnjax.io.nir.mapping.FORWARD_NEUTRAL`: surrogate, ``detach_reset``, BPTA, scan/kernel
  settings) are not written.
* Layers (:data:`EXPORTED_LAYERS`): conv blocks (→ ``Conv2d`` with bias + neuron), average pooling
  (``AvgPool2d``, or ``SumPool2d`` with the :math:`1/k^2` folded into the next layer), dense blocks
  (``Affine`` + neuron), voting (an ``Affine`` with weight :math:`1/G` on each class's group of
  :math:`G` neurons), dropout (the identity at inference, skipped).
* Model options (:data:`EXPORTED_OPTIONS`): BatchNorm / LLC-BN is folded into the convolutions
  (:func:`snnjax.models.fold_norms`); local classifier heads are training-only and dropped with a
  warning; time steps, encoder and readout go to the metadata. Under direct coding the static first
  convolution (computed once) is an ordinary ``Conv2d`` fed the same input at every step: the same
  function. Under rate coding the graph's input is the encoder's spikes.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import ml_collections
import numpy as np

try:
    import nir
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("snnjax.nir needs the 'nir' package: pip install 'nir>=1.0' (or snnjax[nir])") from err

from snnjax.nn.models import build_model, fold_norms
from snnjax.nn.models.conv_net import ConvOptions, ConvSNN
from snnjax.io.nir.mapping import DEFAULT_DT, SPIKE_CONDITIONS, check_dt, lif_to_nir, neuron_leak, neuron_problems


EXPORTED_OPTIONS = {
    "written": ("time_steps", "encoder", "readout", "votes_per_class", "permutation_seed"),
    "folded": ("norm", "llc_bn_alpha", "llc_bn_leak", "norm_stats", "static_norm_updates", "conv_bias", "dense_bias"),
    "training only": ("dropout", "dropout_site", "local_heads", "local_detach", "local_dropout"),
    "implementation": ("max_pool_impl", "conv_impl"),
}
"""The ``ConvOptions`` the exporter handles; any other option away from its default is refused."""

_READ_ONLY_WITH = {"ossa_form": "ossa", "ossa_onset": "ossa", "ossa_attn_dropout": "ossa"}
EXPORTED_LAYERS = ("conv", "pool", "dense", "vote", "dropout")

# Why a refused setting cannot be written (the generic reason names the option and its value).
_WHY = {
    "relu_before_neuron": "ReLU before the neurons (model.relu_before_neuron=True): NIR 1.0 has no ReLU node",
    "ossa": "OSSA (model.ossa=True): onset spiking self-attention (a softmax at t = 0) has no NIR node",
    "trunk_calls": "the released llc-lif trunk's double call (model.trunk_calls=2): a NIR graph runs each node once "
    "per step; set trunk_calls=1",
    "first_neuron": "two first neuron layers, for t = 0 and t >= 1 (model.first_neuron='split'): a NIR graph has one "
    "node per layer for all steps",
    "dense_relu": "ReLU before the dense neurons (model.dense_relu=True): NIR 1.0 has no ReLU node",
}


def _option_problems(opts: ConvOptions) -> list[str]:
    """The model options NIR export does not write, one line each."""
    handled = {name for names in EXPORTED_OPTIONS.values() for name in names}
    problems = []
    for field in dataclasses.fields(ConvOptions):
        value = getattr(opts, field.name)
        if field.name in handled or value == field.default:
            continue
        if field.name in _READ_ONLY_WITH and not getattr(opts, _READ_ONLY_WITH[field.name]):
            continue
        problems.append(_WHY.get(field.name, f"model.{field.name}={value!r}: the NIR exporter does not write it"))
    return problems


def _layer_problems(model: ConvSNN) -> list[str]:
    """The layers NIR export does not write, one line per kind."""
    problems = []
    max_pools = [f"{l.pool[0]}p{l.size}" for l in model.layers if l.kind == "pool" and l.pool == "max"]
    if max_pools:
        problems.append(
            f"max pooling ({', '.join(max_pools)}): NIR 1.0 has no max-pool node; "
            "use avg pooling (ap2) for exportable nets"
        )
    subsample = [f"s{l.size}" for l in model.layers if l.kind == "subsample"]
    if subsample:
        problems.append(f"subsampling ({', '.join(subsample)}): NIR 1.0 has no resize node")
    other = sorted({l.kind for l in model.layers if l.kind not in EXPORTED_LAYERS + ("subsample",)})
    if other:
        problems.append(f"layers of kind {', '.join(other)}: the exporter writes only {', '.join(EXPORTED_LAYERS)}")
    encoder = model.opts.encoder
    if encoder in ("pixel", "permuted_pixel") and any(l.kind in ("conv", "pool") for l in model.layers):
        problems.append(f"a conv net under the {encoder!r} encoder (one pixel per step has no image to convolve)")
    return problems


def unsupported_features(model: ConvSNN) -> list[str]:
    """What in ``model`` the NIR export does not write, one readable line each (empty: exportable)."""
    return _layer_problems(model) + neuron_problems(model.neuron) + _option_problems(model.opts)


def _as_config(model_cfg: Any) -> ml_collections.ConfigDict:
    if isinstance(model_cfg, ml_collections.ConfigDict):
        return model_cfg
    return ml_collections.ConfigDict(dict(model_cfg))


def _num_classes(spec: str) -> int:
    """K from a spec's last token: ``v10`` or ``10`` (``parse_spec`` requires the last dense to be K)."""
    last = spec.strip().lower().split("-")[-1].strip()
    digits = last.removeprefix("v")
    if not digits.isdigit():
        raise ValueError(f"cannot read the number of classes from spec {spec!r}; pass num_outputs")
    return int(digits)


def _step_shape(encoder: str, input_shape: Sequence[int]) -> tuple[int, ...]:
    """The shape of one time step of one example after the encoder (our layout)."""
    shape = tuple(int(s) for s in input_shape)
    if encoder == "sequence":
        return shape[1:]
    if encoder in ("pixel", "permuted_pixel"):
        return shape[-1:]
    return shape


def _chw(shape: tuple[int, ...]) -> tuple[int, ...]:
    """NIR's per-example shape for ours: ``[H, W, C] -> [C, H, W]``; other ranks unchanged."""
    return (shape[2], shape[0], shape[1]) if len(shape) == 3 else shape


def conv_to_nir(kernel: Any, bias: Any, hw: tuple[int, int], scale: float = 1.0) -> nir.Conv2d:
    """A "SAME", stride-1 ``SeqConv`` (HWIO kernel) as ``nir.Conv2d`` (OIHW weight).

    Odd kernels get the symmetric integer padding ``k // 2``; even kernels ``"same"`` (PyTorch pads
    those like XLA: ``(k - 1) // 2`` before). ``scale`` multiplies the weight (a folded sum pool).
    """
    kernel = np.asarray(kernel)
    kh, kw, _, c_out = kernel.shape
    weight = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)) * np.asarray(scale, kernel.dtype)
    bias = np.zeros(c_out, kernel.dtype) if bias is None else np.asarray(bias)
    padding: Any = (kh // 2, kw // 2) if kh % 2 and kw % 2 else "same"
    return nir.Conv2d(input_shape=hw, weight=weight, stride=1, padding=padding, dilation=1, groups=1, bias=bias)


def dense_to_nir(kernel: Any, bias: Any, chw: tuple[int, ...] | None = None, scale: float = 1.0) -> nir.Affine:
    """A ``SeqDense`` (``[N_in, N_out]`` kernel) as ``nir.Affine`` (``[N_out, N_in]`` weight).

    With ``chw = (C, H, W)`` the input is a flattened NHWC feature map: row ``(h·W + w)·C + c`` of our
    kernel becomes column ``(c·H + h)·W + w`` of NIR's, so that NIR's C, H, W flatten gives the same
    function.
    """
    kernel = np.asarray(kernel)
    if chw is not None:
        c, h, w = chw
        kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(c * h * w, -1)
    weight = np.ascontiguousarray(kernel.T) * np.asarray(scale, kernel.dtype)
    bias = np.zeros(weight.shape[0], kernel.dtype) if bias is None else np.asarray(bias)
    return nir.Affine(weight=weight, bias=bias)


def vote_to_nir(width: int, num_classes: int, dtype: Any = np.float32) -> nir.Affine:
    """Voting ``[N·K] -> [K]`` (mean of consecutive groups of ``G = width / K``) as an ``Affine``."""
    group = width // num_classes
    weight = np.kron(np.eye(num_classes, dtype=dtype), np.full((1, group), 1.0 / group, dtype))
    return nir.Affine(weight=weight, bias=np.zeros(num_classes, dtype))


def _pool_node(k: int, kind: str) -> nir.NIRNode:
    size = np.array([k, k])
    cls = nir.AvgPool2d if kind == "avg" else nir.SumPool2d
    return cls(kernel_size=size, stride=size.copy(), padding=np.zeros(2, dtype=size.dtype))


def _channel_leak(k: Any, shape: tuple[int, ...]) -> Any:
    """A scalar or per-channel ``[C]`` leak, broadcastable against NIR's ``[C, H, W]``."""
    k = np.asarray(k)
    return k.reshape(-1, 1, 1) if k.ndim == 1 and len(shape) == 3 else k


def _check_width(name: str, expected: int, got: int) -> None:
    if got != expected:
        raise ValueError(
            f"{name} takes {got} inputs but input_shape gives {expected}; pass the per-example input "
            "shape the model was trained on (batch-major, NHWC for images)"
        )


def export_nir(
    model_cfg: Any,
    variables: Mapping[str, Any],
    input_shape: Sequence[int],
    *,
    num_outputs: int | None = None,
    dt: float | None = None,
    sum_pool: bool = False,
) -> nir.NIRGraph:
    """A trained ``ConvSNN`` as a NIR graph.

    The chain is Input → Conv2d → LIF → AvgPool2d … → Flatten → Affine → LIF … → [voting Affine] →
    Output. With the default ``dt`` (1e-4 s) SpikingJelly 2.0 and snnTorch 1.0 read the file with
    their own defaults (docs/nir.md).

    A model with ``norm="bn"``/``"llc_bn"`` is folded first with :func:`snnjax.models.fold_norms`
    (eval-mode statistics), so the graph is the equivalent purely spiking network. Node names follow
    the variables: ``conv0``, ``conv0_neuron``, ``pool0``, ``flatten``, ``fc0``, ``fc0_neuron``,
    ``vote``. See the module docstring for what is written and :mod:`snnjax.nir.mapping` for the
    neuron mapping and the threshold rule.

    Args:
        model_cfg: ``config.model`` (``arch="conv"``).
        variables: the trained variables (``params``, and ``batch_stats`` when there are norms).
        input_shape: one example as the data loader yields it, without the batch axis
            (``[H, W, C]``; ``[T, H, W, C]`` under the ``sequence`` encoder). The graph's input is
            one time step of the encoded input in NIR layout (``[C, H, W]``).
        num_outputs: the number of classes (default: read from the spec's last token).
        dt: the Euler step, in seconds, one snnjax time step stands for (default
            :data:`~snnjax.nir.mapping.DEFAULT_DT` = 1e-4; stored in ``metadata["dt"]``).
        sum_pool: emit ``SumPool2d`` and fold the :math:`1/k^2` of average pooling into the next
            layer's weights (for back ends without ``AvgPool2d``).

    Returns:
        The ``nir.NIRGraph`` (type-checked); write it with ``nir.write(path, graph)``. Its metadata
        holds ``dt``, ``spike_condition``, ``time_steps``, ``encoder``, ``readout`` and ``spec``.

    Raises:
        ValueError: naming every part of the model the export does not write, or a bad ``dt``.
    """
    dt = check_dt(DEFAULT_DT if dt is None else dt)
    cfg = _as_config(model_cfg)
    if cfg.get("arch", "conv") != "conv":
        raise ValueError(f"export_nir exports ConvSNN models (model.arch='conv'); got model.arch={cfg.arch!r}")
    model = build_model(cfg, num_outputs or _num_classes(cfg.spec))
    problems = unsupported_features(model)
    if problems:
        raise ValueError("cannot export to NIR 1.0: " + "; ".join(problems))
    if model.opts.local_heads != "none":
        warnings.warn(
            f"export_nir drops the local classifier heads (model.local_heads={model.opts.local_heads!r}): "
            "they are training-only auxiliary losses and do not feed the output",
            stacklevel=2,
        )
    if model.opts.norm != "none":
        cfg, variables = fold_norms(cfg, variables)
    nodes = _export_chain(model, variables["params"], _step_shape(model.opts.encoder, input_shape), dt, sum_pool)
    names = [name for name, _ in nodes]
    metadata = {
        "source": "snnjax",
        "dt": dt,
        "spike_condition": SPIKE_CONDITIONS[bool(model.neuron.strict_threshold)],
        "time_steps": int(model.opts.time_steps),
        "encoder": model.opts.encoder,
        "readout": model.opts.readout,
        "spec": str(cfg.spec),
    }
    return nir.NIRGraph(nodes=dict(nodes), edges=list(itertools.pairwise(names)), metadata=metadata)


def _export_chain(
    model: ConvSNN, params: Mapping[str, Any], step_shape: tuple[int, ...], dt: float, sum_pool: bool
) -> list[tuple[str, nir.NIRNode]]:
    """The ``(name, node)`` chain of a checked, folded ``ConvSNN`` (see :func:`export_nir`)."""
    neuron = model.neuron
    shape = _chw(step_shape)  # the current per-example shape, NIR layout
    chain: list[tuple[str, nir.NIRNode]] = [("input", nir.Input(input_type=np.array(shape)))]
    scale = 1.0  # a sum pool's pending 1/k², folded into the next synapse
    n_conv = n_pool = n_dense = 0
    for layer in model.layers:
        if layer.kind == "conv":
            if len(shape) != 3:
                raise ValueError(f"a conv layer needs image steps [H, W, C]; the encoded input step is {step_shape}")
            block = params[f"conv{n_conv}"]
            _check_width(f"conv{n_conv}", shape[0], np.shape(block["conv"]["kernel"])[2])
            node = conv_to_nir(block["conv"]["kernel"], block["conv"].get("bias"), shape[1:], scale)
            shape = (node.weight.shape[0],) + shape[1:]
            k = _channel_leak(neuron_leak(neuron, block), shape)
            lif = lif_to_nir(k, neuron.v_th, shape, decay_input=neuron.decay_input, dt=dt, dtype=node.weight.dtype)
            chain += [(f"conv{n_conv}", node), (f"conv{n_conv}_neuron", lif)]
            scale, n_conv = 1.0, n_conv + 1
        elif layer.kind == "pool":
            kind = "sum" if sum_pool else "avg"
            chain.append((f"pool{n_pool}", _pool_node(layer.size, kind)))
            shape = (shape[0], shape[1] // layer.size, shape[2] // layer.size)
            scale, n_pool = (scale / layer.size**2 if sum_pool else scale), n_pool + 1
        elif layer.kind == "dense":
            block = params[f"fc{n_dense}"]
            chw = None
            if len(shape) > 1:  # flatten: C, H, W order in NIR, H, W, C in ours
                chain.append(("flatten", nir.Flatten(input_type=np.array(shape), start_dim=0, end_dim=-1)))
                chw, shape = (shape if len(shape) == 3 else None), (int(np.prod(shape)),)
            _check_width(f"fc{n_dense}", shape[0], np.shape(block["kernel"])[0])
            node = dense_to_nir(block["kernel"], block.get("bias"), chw, scale)
            shape = (node.weight.shape[0],)
            k = neuron_leak(neuron, params.get(f"fc{n_dense}_neuron", {}))
            lif = lif_to_nir(k, neuron.v_th, shape, decay_input=neuron.decay_input, dt=dt, dtype=node.weight.dtype)
            chain += [(f"fc{n_dense}", node), (f"fc{n_dense}_neuron", lif)]
            scale, n_dense = 1.0, n_dense + 1
        elif layer.kind == "vote":
            chain.append(("vote", vote_to_nir(shape[0], layer.size, chain[-1][1].v_threshold.dtype)))  # the LIF's dtype
            shape = (layer.size,)
        # dropout: the identity at inference
    chain.append(("output", nir.Output(output_type=np.array(shape))))
    return chain
