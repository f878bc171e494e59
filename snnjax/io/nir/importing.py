"""NIR import: a linear chain of NIR nodes run in snnjax's layer-wise form.

``import_nir(graph) -> (apply_fn, params)``; the neuron equations, the time step and the threshold
rule are in :mod:`snnjax.nir.mapping`. ``IF`` is the LIF equation with :math:`k = 1` and input
:math:`\\Delta t\\,R\\,I`; ``LI``/``I`` are the same without spikes (their output is :math:`v`);
``CubaLIF`` first filters the input,
:math:`I_t = (1 - \\Delta t/\\tau_\\mathrm{syn}) I_{t-1} + (\\Delta t/\\tau_\\mathrm{syn})\\,w_\\mathrm{in} S_t`,
and drives the membrane with the updated :math:`I_t` (snnTorch's ``Synaptic`` order).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

try:
    import nir
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("snnjax.nir needs the 'nir' package: pip install 'nir>=1.0' (or snnjax[nir])") from err

from snnjax.core import neurons
from snnjax.core import surrogate
from snnjax.core.time import merge_time, split_time
from snnjax.io.nir.mapping import (
    DEFAULT_DT,
    EulerLIF,
    check_dt,
    check_neuron_node,
    metadata_dt,
    nir_if_to_euler,
    nir_lif_to_euler,
)

Array = jax.Array
Params = dict[str, dict[str, Array]]
ApplyFn = Callable[..., Any]


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


def _time_step(graph: nir.NIRGraph, dt: float | None) -> float:
    """The caller's ``dt``, else ``metadata["dt"]``, else :data:`DEFAULT_DT` with a warning."""
    if dt is not None:
        return check_dt(dt)
    from_graph = metadata_dt(graph.metadata)
    if from_graph is not None:
        return from_graph
    warnings.warn(
        f"import_nir: the graph does not say its time step (no metadata['dt']); assuming dt = {DEFAULT_DT:g} s, "
        "the default of SpikingJelly's and snnTorch's NIR exchange (Norse's importer assumes 1e-3); "
        "pass import_nir(graph, dt=...) to choose",
        stacklevel=3,
    )
    return DEFAULT_DT


def import_nir(
    graph: nir.NIRGraph,
    *,
    dt: float | None = None,
    spike_fn: surrogate.SpikeFunction | None = None,
    input_layout: str = "nir",
    dtype: Any = jnp.float32,
    strict_threshold: bool = True,
) -> tuple[ApplyFn, Params]:
    """Runs a linear chain of NIR nodes in snnjax: ``apply_fn(params, x_seq) -> y_seq``.

    Supported nodes: ``Input``, ``Output``, ``Affine``, ``Linear``, ``Scale``, ``Conv2d``,
    ``Flatten``, ``SumPool2d``, ``AvgPool2d``, ``LIF``, ``IF``, ``LI``, ``I``, ``CubaLIF``,
    ``CubaLI``, ``Threshold``. Synapses run once on the merged ``T·B`` batch; neurons run with
    :func:`snnjax.neurons.lif` over time (forward Euler at step ``dt``, see the module docstring),
    starting from ``v = 0``.

    Args:
        graph: a NIR graph (e.g. from ``nir.read``).
        dt: the Euler step per time step, in seconds (default: ``graph.metadata["dt"]``; a graph
            without one, as SpikingJelly, snnTorch and Norse write them, gets
            :data:`~snnjax.nir.mapping.DEFAULT_DT` = 1e-4, their default, with a warning naming it).
        spike_fn: the spike function (default ``surrogate.sigmoid()``, whose surrogate gradient
            makes the imported network trainable).
        strict_threshold: fire on ``v > v_threshold``, NIR's rule (default); False fires on
            ``v >= v_threshold`` (snnjax's and SpikingJelly's default; see :mod:`snnjax.nir.mapping`).
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
        ValueError: naming unsupported node types, when the graph is not a linear chain, for
            ``dt <= 0``, and naming the node and value of a neuron parameter that would run silently
            wrong (:func:`~snnjax.nir.mapping.check_neuron_node`: :math:`\\tau < \\Delta t` or
            :math:`\\le 0`, NaN, :math:`R = 0`).
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
    if strict_threshold:
        spike_fn = surrogate.strict(spike_fn)
    dt = _time_step(graph, dt)
    for name in order:
        check_neuron_node(name, graph.nodes[name], dt)
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
