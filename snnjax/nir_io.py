"""NIR (Neuromorphic Intermediate Representation, ``nir`` 1.0) export and import.

``export_nir(model_cfg, variables, input_shape) -> nir.NIRGraph`` writes a trained ``ConvSNN`` as
a chain of NIR nodes (save it with ``nir.write(path, graph)``); ``import_nir(graph) -> (apply_fn,
params)`` runs a chain of NIR nodes in snnjax's layer-wise form.

Neuron mapping
--------------
NIR's LIF is the continuous-time equation :math:`\\tau\\,\\dot v = (v_\\mathrm{leak} - v) + R\\,I`,
with a spike and a reset to :math:`v_\\mathrm{reset}` when :math:`v` crosses
:math:`v_\\mathrm{threshold}`. Forward Euler with step :math:`\\Delta t`, the input held over the
step (the discretisation snnTorch and Norse use for their NIR exchange), gives

.. math::
    v_t = \\Big(1 - \\frac{\\Delta t}{\\tau}\\Big) v_{t-1}
          + \\frac{\\Delta t}{\\tau}\\,R\\,I_t + \\frac{\\Delta t}{\\tau}\\,v_\\mathrm{leak}.

snnjax's text-form LIF, :math:`h_t = k\\,v_{t-1} + x_t` with a hard reset to 0, is this with

.. math::
    \\tau = \\frac{\\Delta t}{1 - k}, \\quad R = \\frac{\\tau}{\\Delta t} = \\frac{1}{1 - k}, \\quad
    v_\\mathrm{leak} = 0, \\quad v_\\mathrm{threshold} = v_\\mathrm{th}, \\quad v_\\mathrm{reset} = 0,

(match :math:`1 - \\Delta t/\\tau = k` and :math:`R\\,\\Delta t/\\tau = 1`) and the ``decay_input``
form :math:`h_t = k\\,v_{t-1} + (1 - k)\\,x_t` (SpikingJelly, the llc-lif released code) with the same
:math:`\\tau` and :math:`R = 1` (:math:`R\\,\\Delta t/\\tau = 1 - k = \\Delta t/\\tau`). LLC-LIF is LIF
with :math:`k = \\mathrm{sigmoid}(a)`, so :math:`\\tau/\\Delta t = R = 1 + e^{a}`; its ``decay_input``
form has :math:`k = \\mathrm{sigmoid}(-a)`, :math:`\\tau/\\Delta t = 1 + e^{-a}`, :math:`R = 1`. A
leak of exactly :math:`k = 1` (no leak) is exported as NIR ``IF`` with :math:`R = 1/\\Delta t`.
snnTorch's ``Leaky`` export uses the same formulas (:math:`\\tau = \\Delta t/(1-\\beta)`,
:math:`R = \\tau/\\Delta t`, :math:`\\Delta t = 10^{-4}`); Norse's ``LIFBox`` is the ``R = 1`` form.
The default here is :math:`\\Delta t = 1` (:math:`\\tau` counted in time steps); it is stored in the
graph's ``metadata["dt"]``, which :func:`import_nir` reads.

Import inverts the mapping for any NIR LIF (also :math:`v_\\mathrm{leak}, v_\\mathrm{reset} \\ne 0`):
with :math:`w = v - v_\\mathrm{reset}` the hard reset is to 0, and

.. math::
    w_t = k\\,w_{t-1} + \\frac{\\Delta t}{\\tau}\\big(R\\,I_t + v_\\mathrm{leak} - v_\\mathrm{reset}\\big),
    \\quad k = 1 - \\frac{\\Delta t}{\\tau},
    \\quad \\text{spike if } w_t \\ge v_\\mathrm{threshold} - v_\\mathrm{reset},
    \\quad w_0 = -v_\\mathrm{reset}

(:math:`v_0 = 0`), which is :func:`snnjax.neurons.lif` on the current
:math:`\\frac{\\Delta t}{\\tau}(R I + v_\\mathrm{leak} - v_\\mathrm{reset})`. ``IF`` is the same with
:math:`k = 1` and input :math:`\\Delta t\\,R\\,I`; ``LI``/``I`` are the same without spikes (their
output is :math:`v`); ``CubaLIF`` first filters the input,
:math:`I_t = (1 - \\Delta t/\\tau_\\mathrm{syn}) I_{t-1} + (\\Delta t/\\tau_\\mathrm{syn})\\,w_\\mathrm{in} S_t`,
and drives the membrane with the updated :math:`I_t` (snnTorch's ``Synaptic`` order).

Threshold convention: NIR writes the spike as :math:`v > v_\\mathrm{threshold}`; snnjax fires at
:math:`v \\ge v_\\mathrm{th}` (docs/design.md) in both directions. The two differ only when the
membrane equals the threshold exactly.

Layouts
-------
NIR follows PyTorch: per-example tensors are ``[C, H, W]``, conv weights ``[C_out, C_in, kH, kW]``,
``Affine`` weights ``[N_out, N_in]``, types exclude the batch axis (``Flatten(start_dim=0)`` flattens
a whole example in C, H, W order). snnjax is NHWC / HWIO with an H, W, C flatten, so the export
transposes the conv kernels and permutes the input columns of the first dense layer.

What the export covers
----------------------
``ConvSNN`` (``model.arch="conv"``) with LIF or LLC-LIF neurons and a hard reset: conv blocks
(→ ``Conv2d`` with bias + ``LIF``), average pooling (``AvgPool2d``, or ``SumPool2d`` with the
:math:`1/k^2` folded into the next layer), dense blocks (``Affine`` + ``LIF``) and voting (an
``Affine`` with weight :math:`1/G` on each class's group of :math:`G` neurons and zero bias).
BatchNorm / LLC-BN is folded into the convolutions first (:func:`snnjax.models.fold_norms`).
Dropout is the identity at inference and is skipped; local classifier heads are training-only and
are dropped with a warning. Under direct coding the static first convolution (computed once) is an
ordinary ``Conv2d`` fed the same input at every step: the same function. Under rate coding the
graph's input is the encoder's spikes. Max pooling, soft reset, ALIF and CE-LIF neurons, ReLU before
the neurons and OSSA have no NIR 1.0 equivalent and raise ``ValueError`` naming them. Gradient-only
settings (surrogate, ``detach_reset``, BPTA) do not change the forward pass and are not exported.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

try:
    import nir
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("snnjax.nir_io needs the 'nir' package: pip install 'nir>=1.0' (or snnjax[nir])") from err

from snnjax import neurons, surrogate
from snnjax.layers.spiking import NeuronConfig
from snnjax.layers.time import merge_time, split_time
from snnjax.models import build_model, fold_norms
from snnjax.models.conv_net import ConvSNN

Array = jax.Array
Params = dict[str, dict[str, Array]]
ApplyFn = Callable[..., Any]


# ----------------------------------------------------------------------------------------------
# The LIF mapping (both directions)
# ----------------------------------------------------------------------------------------------


def lif_to_nir(
    decay: Any,
    v_th: Any,
    shape: Sequence[int],
    *,
    decay_input: bool = False,
    dt: float = 1.0,
    dtype: Any = None,
) -> nir.LIF | nir.IF:
    """The NIR node of snnjax LIF neurons with leak ``k = decay`` (see the module docstring).

    .. math::  \\tau = \\frac{\\Delta t}{1-k}, \\quad R = \\frac{1}{1-k} \\;(\\text{decay\\_input: } R = 1),
               \\quad v_\\mathrm{leak} = v_\\mathrm{reset} = 0, \\quad v_\\mathrm{threshold} = v_\\mathrm{th}

    Args:
        decay: the leak ``k`` (scalar or broadcasting against ``shape``; LLC-LIF: ``llc_leak(a)``).
        v_th: the threshold.
        shape: the node's per-example shape in NIR layout (``[C, H, W]`` or ``[N]``).
        decay_input: the ``h = k v + (1 - k) x`` form.
        dt: the Euler step that one snnjax time step stands for.
        dtype: the arrays' dtype (default: the leak's floating dtype, else float32).

    Returns:
        ``nir.LIF``, or ``nir.IF`` (``R = 1/dt``) when ``k = 1`` everywhere in the text form.
    """
    shape = tuple(int(s) for s in shape)
    k = np.broadcast_to(np.asarray(decay), shape)
    if dtype is None:
        dtype = k.dtype if np.issubdtype(k.dtype, np.floating) else np.float32
    k = k.astype(dtype)
    threshold = np.broadcast_to(np.asarray(v_th, dtype), shape).copy()
    zeros = np.zeros(shape, dtype)
    no_leak = k == 1
    if not decay_input and no_leak.any():
        if not no_leak.all():
            raise ValueError("cannot export a LIF layer whose leak is exactly 1 for some neurons and < 1 for others")
        return nir.IF(r=np.full(shape, 1.0 / dt, dtype), v_threshold=threshold, v_reset=zeros)
    with np.errstate(divide="ignore"):  # decay_input with k = 1: tau = inf, R = 1 (input ignored)
        tau = (dt / (1 - k)).astype(dtype)
    r = np.ones(shape, dtype) if decay_input else (tau / dt).astype(dtype)
    return nir.LIF(tau=tau, r=r, v_leak=zeros, v_threshold=threshold, v_reset=zeros.copy())


class EulerLIF(NamedTuple):
    """A NIR LIF/IF node as the discrete neuron that :func:`snnjax.neurons.lif` runs.

    ``x_t = gain · I_t + offset``, ``h_t = decay · v_{t-1} + x_t``, spike at ``h_t >= v_th``, hard
    reset to 0, initial membrane ``v0`` (the membrane measured from ``v_reset``).
    """

    decay: Any
    gain: Any
    offset: Any
    v_th: Any
    v0: Any


def nir_lif_to_euler(tau: Any, r: Any, v_leak: Any, v_threshold: Any, v_reset: Any, dt: float = 1.0) -> EulerLIF:
    """Forward Euler of :math:`\\tau \\dot v = v_\\mathrm{leak} - v + R I` at step ``dt`` (NumPy or JAX).

    .. math::  k = 1 - \\frac{\\Delta t}{\\tau}, \\quad
               x_t = \\frac{\\Delta t}{\\tau}(R I_t + v_\\mathrm{leak} - v_\\mathrm{reset}),
               \\quad \\vartheta = v_\\mathrm{threshold} - v_\\mathrm{reset}, \\quad w_0 = -v_\\mathrm{reset}
    """
    rate = dt / tau
    return EulerLIF(1 - rate, rate * r, rate * (v_leak - v_reset), v_threshold - v_reset, -v_reset)


def nir_if_to_euler(r: Any, v_threshold: Any, v_reset: Any, dt: float = 1.0) -> EulerLIF:
    """Forward Euler of :math:`\\dot v = R I`: ``k = 1``, ``x_t = dt·R·I_t`` (membrane from ``v_reset``)."""
    return EulerLIF(1.0, dt * r, 0.0 * r, v_threshold - v_reset, -v_reset)


# ----------------------------------------------------------------------------------------------
# Export
# ----------------------------------------------------------------------------------------------


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


# Neuron kinds the exporter writes as NIR ``LIF`` nodes; every other kind is refused by name.
EXPORTED_NEURON_KINDS = ("lif", "llc_lif")


def _unsupported_features(model: ConvSNN) -> list[str]:
    """What in ``model`` NIR 1.0 cannot express, one readable line each (empty: exportable)."""
    problems = []
    opts, neuron = model.opts, model.neuron
    max_pools = [f"{l.pool[0]}p{l.size}" for l in model.layers if l.kind == "pool" and l.pool == "max"]
    if max_pools:
        problems.append(
            f"max pooling ({', '.join(max_pools)}): NIR 1.0 has no max-pool node; "
            "use avg pooling (ap2) for exportable nets"
        )
    if neuron.kind == "alif":
        problems.append("ALIF neurons (neuron.kind='alif'): NIR 1.0 has no adaptive-threshold neuron")
    elif neuron.kind == "ce_lif":
        problems.append(
            "CE-LIF neurons (neuron.kind='ce_lif'): NIR 1.0 has no neuron with a learned temporal threshold"
        )
    elif neuron.kind not in EXPORTED_NEURON_KINDS:
        problems.append(
            f"{neuron.kind!r} neurons (neuron.kind={neuron.kind!r}): the exporter maps only "
            f"{', '.join(EXPORTED_NEURON_KINDS)} to NIR's LIF node"
        )
    if neuron.learn_threshold:
        problems.append("a learned threshold (neuron.learn_threshold=True): the exporter writes the config's v_th")
    if neuron.strict_threshold:
        problems.append("a strict threshold (neuron.strict_threshold=True): NIR's LIF fires on v >= v_threshold")
    if neuron.reset == "soft":
        problems.append(
            "soft reset (neuron.reset='soft'): NIR's LIF/IF reset the membrane to v_reset; "
            "a subtractive reset has no NIR 1.0 equivalent"
        )
    if opts.relu_before_neuron:
        problems.append("ReLU before the neurons (model.relu_before_neuron=True): NIR 1.0 has no ReLU node")
    if opts.ossa:
        problems.append("OSSA (model.ossa=True): onset spiking self-attention (a softmax at t = 0) has no NIR node")
    if opts.trunk_calls != 1:
        problems.append(
            "the released llc-lif trunk's double call (model.trunk_calls=2): a NIR graph runs each node once "
            "per step; set trunk_calls=1"
        )
    if opts.first_neuron == "split":
        problems.append(
            "two first neuron layers, for t = 0 and t >= 1 (model.first_neuron='split'): a NIR graph has one "
            "node per layer for all steps"
        )
    if opts.dense_relu:
        problems.append("ReLU before the dense neurons (model.dense_relu=True): NIR 1.0 has no ReLU node")
    subsample = [f"s{l.size}" for l in model.layers if l.kind == "subsample"]
    if subsample:
        problems.append(f"subsampling ({', '.join(subsample)}): NIR 1.0 has no resize node")
    if neuron.surrogate == "bpsa_code":
        problems.append(
            "the released BP-STA spike value u/(u + 1e-12) (neuron.surrogate='bpsa_code'): NIR neurons emit "
            "spikes of 1; export with surrogate='bpsa' (the same forward up to 1e-12)"
        )
    if opts.encoder in ("pixel", "permuted_pixel") and any(l.kind in ("conv", "pool") for l in model.layers):
        problems.append(f"a conv net under the {opts.encoder!r} encoder (one pixel per step has no image to convolve)")
    return problems


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


def _leak(neuron: NeuronConfig, params: Mapping[str, Any]) -> Any:
    """The leak ``k`` of a block's neurons: ``decay`` (LIF) or ``llc_leak(a)`` (LLC-LIF)."""
    if neuron.kind == "llc_lif":
        return np.asarray(neurons.llc_leak(params["a"], neuron.decay_input))
    return neuron.decay


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
    dt: float = 1.0,
    sum_pool: bool = False,
) -> nir.NIRGraph:
    """A trained ``ConvSNN`` as a NIR graph.

    The chain is Input → Conv2d → LIF → AvgPool2d … → Flatten → Affine → LIF … → [voting Affine] →
    Output.

    A model with ``norm="bn"``/``"llc_bn"`` is folded first with :func:`snnjax.models.fold_norms`
    (eval-mode statistics), so the graph is the equivalent purely spiking network. Node names follow
    the variables: ``conv0``, ``conv0_neuron``, ``pool0``, ``flatten``, ``fc0``, ``fc0_neuron``,
    ``vote``. See the module docstring for the neuron mapping and what is supported.

    Args:
        model_cfg: ``config.model`` (``arch="conv"``).
        variables: the trained variables (``params``, and ``batch_stats`` when there are norms).
        input_shape: one example as the data loader yields it, without the batch axis
            (``[H, W, C]``; ``[T, H, W, C]`` under the ``sequence`` encoder). The graph's input is
            one time step of the encoded input in NIR layout (``[C, H, W]``).
        num_outputs: the number of classes (default: read from the spec's last token).
        dt: the Euler step one snnjax time step stands for (stored in ``metadata["dt"]``).
        sum_pool: emit ``SumPool2d`` and fold the :math:`1/k^2` of average pooling into the next
            layer's weights (for back ends without ``AvgPool2d``).

    Returns:
        The ``nir.NIRGraph`` (type-checked); write it with ``nir.write(path, graph)``.

    Raises:
        ValueError: naming every part of the model NIR 1.0 cannot express.
    """
    cfg = _as_config(model_cfg)
    if cfg.get("arch", "conv") != "conv":
        raise ValueError(f"export_nir exports ConvSNN models (model.arch='conv'); got model.arch={cfg.arch!r}")
    model = build_model(cfg, num_outputs or _num_classes(cfg.spec))
    problems = _unsupported_features(model)
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
        "dt": float(dt),
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
            k = _channel_leak(_leak(neuron, block), shape)
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
            k = _leak(neuron, params.get(f"fc{n_dense}_neuron", {}))
            lif = lif_to_nir(k, neuron.v_th, shape, decay_input=neuron.decay_input, dt=dt, dtype=node.weight.dtype)
            chain += [(f"fc{n_dense}", node), (f"fc{n_dense}_neuron", lif)]
            scale, n_dense = 1.0, n_dense + 1
        elif layer.kind == "vote":
            chain.append(("vote", vote_to_nir(shape[0], layer.size, chain[-1][1].v_threshold.dtype)))  # the LIF's dtype
            shape = (layer.size,)
        # dropout: the identity at inference
    chain.append(("output", nir.Output(output_type=np.array(shape))))
    return chain


# ----------------------------------------------------------------------------------------------
# Import
# ----------------------------------------------------------------------------------------------

SUPPORTED_NODES = (
    "Input", "Output", "Affine", "Linear", "Scale", "Conv2d", "Flatten", "SumPool2d", "AvgPool2d",
    "LIF", "IF", "LI", "I", "CubaLIF", "CubaLI", "Threshold",
)  # fmt: skip


class _Op(NamedTuple):
    """One imported node: its trainable arrays and ``fn(params, x [T, B, ...]) -> y [T, B, ...]``."""

    name: str
    params: dict[str, np.ndarray]
    fn: Callable[[Mapping[str, Array], Array], Array]


def chain_order(graph: nir.NIRGraph) -> list[str]:
    """The node names of a linear-chain graph from its ``Input`` to its ``Output``.

    Raises:
        ValueError: if the graph is not one chain (several inputs/outputs, fan-in, fan-out,
            recurrence, or nodes off the chain).
    """
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise ValueError(f"import_nir supports linear chains with one Input node; found {len(inputs)}: {inputs}")
    successors: dict[str, list[str]] = {n: [] for n in graph.nodes}
    in_degree = {n: 0 for n in graph.nodes}
    for src, dst in graph.edges:
        successors[src].append(dst)
        in_degree[dst] += 1
    branching = {n: s for n, s in successors.items() if len(s) > 1}
    merging = [n for n, d in in_degree.items() if d > 1]
    if branching or merging:
        raise ValueError(
            "import_nir supports linear chains only; "
            f"fan-out at {sorted(branching)}, fan-in (or recurrence) at {sorted(merging)}"
        )
    order, node = [], inputs[0]
    while True:
        order.append(node)
        if not successors[node]:
            break
        node = successors[node][0]
        if node in order:
            raise ValueError(f"import_nir supports linear chains only; the graph has a cycle through {node!r}")
    if not isinstance(graph.nodes[order[-1]], nir.Output):
        raise ValueError(f"the chain from {inputs[0]!r} ends at {order[-1]!r}, not at an Output node")  # noqa: TRY004
    off_chain = sorted(set(graph.nodes) - set(order))
    if off_chain:
        raise ValueError(f"import_nir supports linear chains only; nodes off the Input→Output chain: {off_chain}")
    return order


def _pair(value: Any) -> tuple[int, int]:
    v = np.asarray(value).reshape(-1)
    return (int(v[0]), int(v[0])) if v.size == 1 else (int(v[0]), int(v[1]))


def _per_example(p: Array, x: Array) -> Array:
    """A per-example parameter ``[...shape]`` shaped to broadcast against ``x: [T, B, ...shape]``."""
    p = jnp.asarray(p).astype(x.dtype)
    return p.reshape((1,) * (x.ndim - p.ndim) + p.shape)


def _neuron_shape(p: Array, x: Array) -> Array:
    """A neuron parameter broadcast to one step's neuron shape ``[B, ...]`` (for the scanned neuron)."""
    return jnp.broadcast_to(jnp.asarray(p).astype(x.dtype), x.shape[1:])


def _leaky_integrate(x_seq: Array, decay: Array) -> Array:
    """``v_t = decay·v_{t-1} + x_t`` from ``v = 0`` over the leading axis (no spikes); all ``v_t``."""

    def step(v, x_t):
        v = decay * v + x_t
        return v, v

    return jax.lax.scan(step, jnp.zeros(x_seq.shape[1:], x_seq.dtype), x_seq)[1]


def _leaky_membrane(current: Array, tau: Array, r: Array, v_leak: Array, dt: float) -> Array:
    """The LI membrane ``v_t = (1 - dt/τ) v_{t-1} + (dt/τ)(R I_t + v_leak)`` for ``current [T, B, ...]``."""
    rate = _per_example(dt / tau, current)
    drive = rate * (current * _per_example(r, current) + _per_example(v_leak, current))
    return _leaky_integrate(drive, 1 - rate[0])


def _spiking(euler: EulerLIF, current: Array, spike_fn: surrogate.SpikeFunction) -> Array:
    """Runs :func:`snnjax.neurons.lif` for an :class:`EulerLIF` on the raw input ``current [T, B, ...]``."""
    x = current * _per_example(euler.gain, current) + _per_example(euler.offset, current)
    s, _ = neurons.lif(
        x,
        decay=_neuron_shape(euler.decay, current),
        v_th=_neuron_shape(euler.v_th, current),
        spike_fn=spike_fn,
        state=neurons.LIFState(_neuron_shape(euler.v0, current)),
    )
    return s


def _conv_op(node: nir.Conv2d) -> Callable:
    stride, dilation, groups = _pair(node.stride), _pair(node.dilation), int(node.groups)
    padding = node.padding.decode() if isinstance(node.padding, bytes) else node.padding
    padding = padding.upper() if isinstance(padding, str) else [(p, p) for p in _pair(padding)]

    def fn(p, x):
        y = jax.lax.conv_general_dilated(
            merge_time(x), p["weight"].astype(x.dtype), stride, padding, rhs_dilation=dilation,
            dimension_numbers=("NCHW", "OIHW", "NCHW"), feature_group_count=groups,
        )  # fmt: skip
        return split_time(y + p["bias"].astype(x.dtype).reshape(1, -1, 1, 1), x.shape[0])

    return fn


def _pool_op(node: nir.AvgPool2d | nir.SumPool2d) -> Callable:
    kernel, stride, pad = _pair(node.kernel_size), _pair(node.stride), _pair(node.padding)
    window, strides = (1, 1) + kernel, (1, 1) + stride
    padding = ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1]))
    average = isinstance(node, nir.AvgPool2d)

    def fn(p, x):
        z = merge_time(x)
        y = jax.lax.reduce_window(z, jnp.zeros((), z.dtype), jax.lax.add, window, strides, padding)
        if average:  # PyTorch's count_include_pad=True
            y = y / jnp.asarray(kernel[0] * kernel[1], y.dtype)
        return split_time(y, x.shape[0])

    return fn


def _flatten_op(node: nir.Flatten) -> Callable:
    start, end = int(node.start_dim), int(node.end_dim)

    def fn(p, x):
        shape = x.shape[2:]
        s, e = start % len(shape), end % len(shape)
        return x.reshape(x.shape[:2] + shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :])

    return fn


def _affine_fn(p, x):
    y = x @ p["weight"].astype(x.dtype).T
    return y + _per_example(p["bias"], y) if "bias" in p else y


_LIF_KEYS = ("tau", "r", "v_leak", "v_threshold", "v_reset")
_IF_KEYS = ("r", "v_threshold", "v_reset")
_CUBA_KEYS = ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")


def _neuron_op(name: str, node: nir.NIRNode, dt: float, spike_fn: surrogate.SpikeFunction) -> _Op:
    """LIF, IF, LI, I, CubaLIF, CubaLI, Threshold (see the module docstring for the equations)."""
    kind = type(node).__name__
    arrays = {k: v for k, v in vars(node).items() if k in _LIF_KEYS + _CUBA_KEYS + ("threshold",)}

    def lif(p, x):
        return _spiking(nir_lif_to_euler(*(p[k] for k in _LIF_KEYS), dt), x, spike_fn)

    def if_(p, x):
        return _spiking(nir_if_to_euler(*(p[k] for k in _IF_KEYS), dt), x, spike_fn)

    def li(p, x):
        return _leaky_membrane(x, p["tau"], p["r"], p["v_leak"], dt)

    def integrator(p, x):  # I: dv/dt = R I
        return _leaky_integrate(x * _per_example(dt * p["r"], x), jnp.ones((1,) + x.shape[2:], x.dtype))

    def cuba(p, x):  # synaptic filter, then the membrane driven by the updated current
        syn = _leaky_membrane(x, p["tau_syn"], p["w_in"], jnp.zeros_like(p["w_in"]), dt)
        if kind == "CubaLI":
            return _leaky_membrane(syn, p["tau_mem"], p["r"], p["v_leak"], dt)
        euler = nir_lif_to_euler(p["tau_mem"], p["r"], p["v_leak"], p["v_threshold"], p["v_reset"], dt)
        return _spiking(euler, syn, spike_fn)

    def threshold(p, x):
        return spike_fn(x, _per_example(p["threshold"], x))

    fns = {"LIF": lif, "IF": if_, "LI": li, "I": integrator, "CubaLIF": cuba, "CubaLI": cuba, "Threshold": threshold}
    return _Op(name, arrays, fns[kind])


def _node_op(name: str, node: nir.NIRNode, dt: float, spike_fn: surrogate.SpikeFunction) -> _Op:
    """The :class:`_Op` of one supported node."""
    kind = type(node).__name__
    if kind in ("Input", "Output"):
        return _Op(name, {}, lambda p, x: x)
    if kind in ("Affine", "Linear"):
        if np.ndim(node.weight) != 2:
            raise ValueError(f"node {name!r}: {kind} weight must be [N_out, N_in], got shape {np.shape(node.weight)}")
        arrays = {"weight": node.weight, "bias": node.bias} if kind == "Affine" else {"weight": node.weight}
        return _Op(name, arrays, _affine_fn)
    if kind == "Scale":
        return _Op(name, {"scale": node.scale}, lambda p, x: x * _per_example(p["scale"], x))
    if kind == "Conv2d":
        return _Op(name, {"weight": node.weight, "bias": node.bias}, _conv_op(node))
    if kind in ("AvgPool2d", "SumPool2d"):
        return _Op(name, {}, _pool_op(node))
    if kind == "Flatten":
        return _Op(name, {}, _flatten_op(node))
    return _neuron_op(name, node, dt, spike_fn)


def import_nir(
    graph: nir.NIRGraph,
    *,
    dt: float | None = None,
    spike_fn: surrogate.SpikeFunction | None = None,
    input_layout: str = "nir",
    dtype: Any = jnp.float32,
) -> tuple[ApplyFn, Params]:
    """Runs a linear chain of NIR nodes in snnjax: ``apply_fn(params, x_seq) -> y_seq``.

    Supported nodes: ``Input``, ``Output``, ``Affine``, ``Linear``, ``Scale``, ``Conv2d``,
    ``Flatten``, ``SumPool2d``, ``AvgPool2d``, ``LIF``, ``IF``, ``LI``, ``I``, ``CubaLIF``,
    ``CubaLI``, ``Threshold``. Synapses run once on the merged ``T·B`` batch; neurons run with
    :func:`snnjax.neurons.lif` over time (forward Euler at step ``dt``, see the module docstring),
    starting from ``v = 0``.

    Args:
        graph: a NIR graph (e.g. from ``nir.read``).
        dt: the Euler step per time step (default: ``graph.metadata["dt"]``, else 1).
        spike_fn: the spike function (forward ``v >= threshold``; default ``surrogate.sigmoid()``,
            whose surrogate gradient makes the imported network trainable).
        input_layout: ``"nir"``: ``x_seq`` is ``[T, B, *input]`` with NIR's per-example shape
            (``[C, H, W]``); ``"nhwc"``: an image input comes as ``[T, B, H, W, C]`` (snnjax).
        dtype: the dtype of ``params``.

    Returns:
        ``(apply_fn, params)``. ``params`` maps node names to their arrays under NIR's names
        (``{"fc0": {"weight", "bias"}, "fc0_neuron": {"tau", "r", ...}}``). ``apply_fn(params,
        x_seq, return_intermediates=False)`` returns the ``Output`` node's ``[T, B, *output]`` (and,
        with ``return_intermediates=True``, also a dict of every node's output), computed in
        ``x_seq``'s floating dtype (float32 for integer/bool spikes). It is jit-able.

    Raises:
        ValueError: naming unsupported node types, or when the graph is not a linear chain.
    """
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    unsupported = sorted(f"{kind} ({name!r})" for name, kind in kinds.items() if kind not in SUPPORTED_NODES)
    if unsupported:
        raise ValueError(
            f"import_nir cannot run these NIR nodes: {', '.join(unsupported)}; supported: {', '.join(SUPPORTED_NODES)}"
        )
    if input_layout not in ("nir", "nhwc"):
        raise ValueError(f"input_layout must be 'nir' or 'nhwc', got {input_layout!r}")
    order = chain_order(graph)
    spike_fn = surrogate.sigmoid() if spike_fn is None else spike_fn
    if dt is None:
        dt = float(graph.metadata.get("dt", 1.0)) if isinstance(graph.metadata, dict) else 1.0
    ops = [_node_op(name, graph.nodes[name], dt, spike_fn) for name in order]
    params = {op.name: {k: jnp.asarray(np.asarray(v), dtype) for k, v in op.params.items()} for op in ops if op.params}
    input_shape = tuple(int(s) for s in np.asarray(graph.nodes[order[0]].input_type["input"]).reshape(-1))

    def apply_fn(params: Params, x_seq: Array, return_intermediates: bool = False):
        x = jnp.asarray(x_seq)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.float32)
        if input_layout == "nhwc" and x.ndim == 5:
            x = jnp.transpose(x, (0, 1, 4, 2, 3))
        if x.shape[2:] != input_shape:
            got = tuple(jnp.shape(x_seq))
            raise ValueError(f"x_seq must be [T, B, *{input_shape}] ({input_layout} layout); got {got}")
        outputs = {}
        for op in ops:
            x = op.fn(params.get(op.name, {}), x)
            outputs[op.name] = x
        return (x, outputs) if return_intermediates else x

    return apply_fn, params
