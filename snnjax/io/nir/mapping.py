"""The neuron ↔ NIR parameter mapping that export and import both use.

Time step
---------
NIR's neurons are continuous-time; a discrete network stands for them at one Euler step
:math:`\\Delta t` per time step. snnjax writes and assumes :data:`DEFAULT_DT` :math:`= 10^{-4}` s,
the step SpikingJelly 2.0's and snnTorch 1.0's NIR importers and exporters assume by default
(snnTorch's is fixed; Norse 1.1's importer defaults to :math:`10^{-3}`: pass ``dt=1e-4`` to it), so a
file snnjax writes reads the same in those libraries with their defaults. The export stores
:math:`\\Delta t` in the graph's ``metadata["dt"]``; the import uses, in this order, the caller's
``dt``, ``metadata["dt"]``, or :data:`DEFAULT_DT` with a warning naming the assumption.

Neuron mapping
--------------
NIR's LIF is :math:`\\tau\\,\\dot v = (v_\\mathrm{leak} - v) + R\\,I`, with a spike and a reset to
:math:`v_\\mathrm{reset}` when :math:`v` crosses :math:`v_\\mathrm{threshold}`. Forward Euler with
step :math:`\\Delta t`, the input held over the step (the discretisation SpikingJelly, snnTorch and
Norse use for their NIR exchange), gives

.. math::
    v_t = \\Big(1 - \\frac{\\Delta t}{\\tau}\\Big) v_{t-1}
          + \\frac{\\Delta t}{\\tau}\\,R\\,I_t + \\frac{\\Delta t}{\\tau}\\,v_\\mathrm{leak}.

snnjax's text-form LIF, :math:`h_t = k\\,v_{t-1} + x_t` with a hard reset to 0, is this with

.. math::
    \\tau = \\frac{\\Delta t}{1 - k}, \\quad R = \\frac{\\tau}{\\Delta t} = \\frac{1}{1 - k}, \\quad
    v_\\mathrm{leak} = 0, \\quad v_\\mathrm{threshold} = v_\\mathrm{th}, \\quad v_\\mathrm{reset} = 0,

(match :math:`1 - \\Delta t/\\tau = k` and :math:`R\\,\\Delta t/\\tau = 1`) and the ``decay_input``
form :math:`h_t = k\\,v_{t-1} + (1 - k)\\,x_t` (SpikingJelly, the llc-lif released code) with the same
:math:`\\tau` and :math:`R = 1`. LLC-LIF is LIF with :math:`k = \\mathrm{sigmoid}(a)`, so
:math:`\\tau/\\Delta t = R = 1 + e^{a}`; its ``decay_input`` form has :math:`k = \\mathrm{sigmoid}(-a)`,
:math:`R = 1`. No leak (:math:`k = 1`, the ``if`` kind) is NIR ``IF`` with :math:`R = 1/\\Delta t`
(:math:`v_t = v_{t-1} + \\Delta t\\,R\\,I_t`). snnTorch's ``Leaky`` export uses the same formulas.

Import inverts the mapping for any NIR LIF (also :math:`v_\\mathrm{leak}, v_\\mathrm{reset} \\ne 0`):
with :math:`w = v - v_\\mathrm{reset}` the reset is to 0 and

.. math::
    w_t = k\\,w_{t-1} + \\frac{\\Delta t}{\\tau}\\big(R\\,I_t + v_\\mathrm{leak} - v_\\mathrm{reset}\\big),
    \\quad k = 1 - \\frac{\\Delta t}{\\tau} \\in [0, 1],
    \\quad w_0 = -v_\\mathrm{reset}

(:math:`v_0 = 0`). A node with :math:`\\tau < \\Delta t` (a leak below 0: the Euler step overshoots
the resting potential and the membrane oscillates), :math:`\\tau \\le 0` or NaN, :math:`R = 0`, a NaN
threshold, or :math:`\\Delta t \\le 0` is refused, naming the node and the value
(:func:`check_dt`, :func:`check_neuron_node`): such a graph would run as a silent, all-zero or
diverging network.

Which neurons
-------------
A neuron kind says itself what NIR can express of it (:class:`snnjax.core.neurons.NeuronKind`):
``nir_options``, the :class:`~snnjax.core.neurons.NeuronConfig` options its NIR LIF/IF node
carries, and ``nir_leak(cfg, params)``, the node's leak :math:`k`; a kind without ``nir_options``
is refused by name (with its ``nir_refusal``). Every kind is written with a hard reset and its
config's threshold; :func:`neuron_problems` refuses by name every other option away from its
default, except those that leave the forward pass unchanged (:data:`FORWARD_NEUTRAL`).

Threshold rule
----------------
This is the one place that states it. NIR 1.0 defines the spike as :math:`v > v_\\mathrm{threshold}`
(snnTorch's rule); snnjax's default and SpikingJelly's is :math:`v \\ge v_\\mathrm{th}`
(``neuron.strict_threshold=True`` selects :math:`>`). The import follows NIR
(``import_nir(strict_threshold=True)``, the default) unless the caller passes
``strict_threshold=False``. The export writes either model: a :math:`>` model is the spec's rule
exactly; a :math:`\\ge` model (the default) differs from what a NIR reader computes only at steps where
a membrane lands exactly on the threshold, where it fires and the reader does not. The graph's
``metadata["spike_condition"]`` records which (``"v > v_threshold"`` or ``"v >= v_threshold"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import dataclasses

import numpy as np
from jax.typing import ArrayLike

try:
    import nir
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("snnjax.nir needs the 'nir' package: pip install 'nir>=1.0' (or snnjax[nir])") from err

from snnjax.core.neurons.kind import NEURON_KINDS, NeuronConfig

DEFAULT_DT = 1e-4
"""The Euler step (seconds per time step) snnjax writes and assumes: SpikingJelly's and snnTorch's default."""

SPIKE_CONDITIONS = {False: "v >= v_threshold", True: "v > v_threshold"}
"""``metadata["spike_condition"]`` for ``strict_threshold`` False / True."""


WRITTEN_BY_EVERY_KIND = ("kind", "v_th", "strict_threshold")
"""The neuron options every exportable kind's node carries (the threshold rule goes to the metadata)."""
FORWARD_NEUTRAL = ("detach_reset", "bpta_alpha", "surrogate", "surrogate_param", "unroll", "remat", "impl", "precision")
"""Neuron options that leave the float32 forward pass as written (gradients, scan and kernel settings)."""

# Why a neuron setting cannot be written (others: "neuron.<option>=<value>: the NIR exporter does not write it").
_WHY = {
    "reset": "soft reset (neuron.reset='soft'): NIR's LIF/IF reset the membrane to v_reset; "
    "a subtractive reset has no NIR 1.0 equivalent",
    "learn_threshold": "a learned threshold (neuron.learn_threshold=True): the exporter writes the config's v_th",
    "surrogate": "the released BP-STA spike value u/(u + 1e-12) (neuron.surrogate='bpsa_code'): NIR neurons emit "
    "spikes of 1; export with surrogate='bpsa' (the same forward up to 1e-12)",
}


def nir_neuron_kinds() -> list[str]:
    """The registered neuron kinds NIR can express (those that declare ``nir_options``), in registration order."""
    return [name for name, kind in NEURON_KINDS.items() if kind.nir_options is not None]


def neuron_problems(neuron: NeuronConfig) -> list[str]:
    """Why ``neuron``'s layers cannot be written to NIR, one line per setting, by name (empty: they can).

    Refused: a kind that declares no NIR form; a soft reset; the ``bpsa_code`` spike value; and any
    option away from its default that the kind's NIR form does not carry (``nir_options``) and that
    changes the forward pass. For a refused kind only the settings no kind could write are listed.
    """
    kind = NEURON_KINDS.lookup(neuron.kind)
    problems = []
    if kind.nir_options is None:
        label = kind.display_name if kind.nir_refusal else repr(neuron.kind)
        reason = kind.nir_refusal or f"the exporter maps only {', '.join(nir_neuron_kinds())} to NIR's LIF/IF nodes"
        problems.append(f"{label} neurons (neuron.kind={neuron.kind!r}): {reason}")
        carried = {f.name for f in dataclasses.fields(NeuronConfig)} - {"reset", "surrogate", "learn_threshold"}
    else:
        carried = set(kind.nir_options)
    handled = set(WRITTEN_BY_EVERY_KIND) | carried | set(FORWARD_NEUTRAL)
    for field in dataclasses.fields(NeuronConfig):
        value = getattr(neuron, field.name)
        if field.name == "reset" and value != "hard":
            problems.append(_WHY["reset"])
        elif field.name == "surrogate" and value == "bpsa_code":
            problems.append(_WHY["surrogate"])
        elif field.name not in handled and value != field.default:
            problems.append(_WHY.get(field.name, f"neuron.{field.name}={value!r}: the NIR exporter does not write it"))
    return problems


def neuron_leak(neuron: NeuronConfig, params: Mapping[str, Any]) -> np.ndarray:
    """The leak ``k`` of NIR's LIF node for a layer of ``neuron``'s neurons with parameters ``params``
    (the kind's ``nir_leak``; a scalar or ``[C]``)."""
    return np.asarray(NEURON_KINDS.lookup(neuron.kind).nir_leak(neuron, params))


def check_dt(dt: Any, where: str = "dt") -> float:
    """``dt`` as a float, refused unless finite and > 0 (``where`` names it in the error)."""
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a number of seconds per time step, got {dt!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{where} must be finite and > 0 (seconds per time step), got {value!r}")
    return value


def lif_to_nir(
    decay: ArrayLike,
    v_th: ArrayLike,
    shape: Sequence[int],
    *,
    decay_input: bool = False,
    dt: float = DEFAULT_DT,
    dtype: Any = None,
) -> nir.LIF | nir.IF:
    """The NIR node of snnjax LIF neurons with leak ``k = decay`` (see the module docstring).

    .. math::  \\tau = \\frac{\\Delta t}{1-k}, \\quad R = \\frac{1}{1-k} \\;(\\text{decay\\_input: } R = 1),
               \\quad v_\\mathrm{leak} = v_\\mathrm{reset} = 0, \\quad v_\\mathrm{threshold} = v_\\mathrm{th}

    Args:
        decay: the leak ``k`` in [0, 1] (scalar or broadcasting against ``shape``; LLC-LIF:
            ``llc_leak(a)``; 1 for the ``if`` kind).
        v_th: the threshold.
        shape: the node's per-example shape in NIR layout (``[C, H, W]`` or ``[N]``).
        decay_input: the ``h = k v + (1 - k) x`` form.
        dt: the Euler step that one snnjax time step stands for (seconds).
        dtype: the arrays' dtype (default: the leak's floating dtype, else float32).

    Returns:
        ``nir.LIF``, or ``nir.IF`` (``R = 1/dt``) when ``k = 1`` everywhere in the text form.

    Raises:
        ValueError: for a leak outside [0, 1], a leak of 1 for only some neurons, or a bad ``dt``.
    """
    dt = check_dt(dt)
    shape = tuple(int(s) for s in shape)
    k = np.broadcast_to(np.asarray(decay), shape)
    if dtype is None:
        dtype = k.dtype if np.issubdtype(k.dtype, np.floating) else np.float32
    k = k.astype(dtype)
    outside = ~((k >= 0) & (k <= 1))
    if outside.any():
        raise ValueError(f"a LIF leak must lie in [0, 1] to be a NIR LIF; got {k[outside].flat[0]!r}")
    threshold = np.broadcast_to(np.asarray(v_th, dtype), shape).copy()
    zeros = np.zeros(shape, dtype)
    no_leak = k == 1
    if not decay_input and no_leak.any():
        if not no_leak.all():
            raise ValueError("cannot export a LIF layer whose leak is exactly 1 for some neurons and < 1 for others")
        return nir.IF(r=np.full(shape, 1.0 / dt, dtype), v_threshold=threshold, v_reset=zeros)
    with np.errstate(divide="ignore"):  # decay_input with k = 1: tau = inf, R = 1 (input ignored)
        tau = (dt / (1 - k)).astype(dtype)
        r = np.ones(shape, dtype) if decay_input else (1 / (1 - k)).astype(dtype)
    return nir.LIF(tau=tau, r=r, v_leak=zeros, v_threshold=threshold, v_reset=zeros.copy())


class EulerLIF(NamedTuple):
    """A NIR LIF/IF node as the discrete neuron that :func:`snnjax.neurons.lif` runs.

    ``x_t = gain · I_t + offset``, ``h_t = decay · v_{t-1} + x_t``, spike when ``h_t`` crosses
    ``v_th`` (the threshold rule in the module docstring), reset to 0, initial membrane ``v0`` (the
    membrane measured from ``v_reset``).
    """

    decay: Any
    gain: Any
    offset: Any
    v_th: Any
    v0: Any


def nir_lif_to_euler(
    tau: ArrayLike, r: ArrayLike, v_leak: ArrayLike, v_threshold: ArrayLike, v_reset: ArrayLike, dt: float = DEFAULT_DT
) -> EulerLIF:
    """Forward Euler of :math:`\\tau \\dot v = v_\\mathrm{leak} - v + R I` at step ``dt`` (NumPy or JAX).

    .. math::  k = 1 - \\frac{\\Delta t}{\\tau}, \\quad
               x_t = \\frac{\\Delta t}{\\tau}(R I_t + v_\\mathrm{leak} - v_\\mathrm{reset}),
               \\quad \\vartheta = v_\\mathrm{threshold} - v_\\mathrm{reset}, \\quad w_0 = -v_\\mathrm{reset}
    """
    rate = dt / tau
    return EulerLIF(1 - rate, rate * r, rate * (v_leak - v_reset), v_threshold - v_reset, -v_reset)


def nir_if_to_euler(r: ArrayLike, v_threshold: ArrayLike, v_reset: ArrayLike, dt: float = DEFAULT_DT) -> EulerLIF:
    """Forward Euler of :math:`\\dot v = R I`: ``k = 1``, ``x_t = dt·R·I_t`` (membrane from ``v_reset``)."""
    return EulerLIF(1.0, dt * r, 0.0 * r, v_threshold - v_reset, -v_reset)


# What import checks on each neuron node: time constants (finite or +inf, >= dt), gains (not 0),
# and every parameter not NaN.
_TIME_CONSTANTS = {"LIF": ("tau",), "LI": ("tau",), "CubaLIF": ("tau_syn", "tau_mem"), "CubaLI": ("tau_syn", "tau_mem")}
_GAINS = {"LIF": ("r",), "IF": ("r",), "LI": ("r",), "I": ("r",), "CubaLIF": ("r", "w_in"), "CubaLI": ("r", "w_in")}
_PARAMETERS = {
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "IF": ("r", "v_threshold", "v_reset"),
    "LI": ("tau", "r", "v_leak"),
    "I": ("r",),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
    "Threshold": ("threshold",),
}


def _first(values: np.ndarray, where: np.ndarray) -> str:
    return f"{float(values[where].flat[0]):.6g}"


def check_neuron_node(name: str, node: Any, dt: float) -> None:
    """Refuses a neuron node that would run as a silent, all-zero or diverging network.

    Refused, naming the node and the value: any NaN parameter; a time constant :math:`\\tau \\le 0`
    or :math:`\\tau < \\Delta t` (its leak :math:`1 - \\Delta t/\\tau` falls outside [0, 1]);
    :math:`R = 0` or :math:`w_\\mathrm{in} = 0` (the neuron ignores its input). :math:`\\tau = +\\infty`
    (leak 1) is allowed.

    Raises:
        ValueError: one line, ``NIR node 'name' (Kind): param = value ...``.
    """
    kind = type(node).__name__
    for param in _PARAMETERS.get(kind, ()):
        value = np.asarray(getattr(node, param), np.float64)
        where = f"NIR node {name!r} ({kind}): {param}"
        if np.isnan(value).any():
            raise ValueError(f"{where} is NaN; a NaN parameter makes the neuron silent")
        if param in _TIME_CONSTANTS.get(kind, ()):
            if (value <= 0).any():
                raise ValueError(f"{where} = {_first(value, value <= 0)}; a time constant must be > 0")
            if (value < dt).any():
                tau = float(value[value < dt].flat[0])
                raise ValueError(
                    f"{where} = {tau:.6g} is below dt = {dt:.6g}, so the leak 1 - dt/{param} = {1 - dt / tau:.6g} "
                    "falls outside [0, 1]; pass the time step the graph was made with (import_nir(graph, dt=...))"
                )
        if param in _GAINS.get(kind, ()) and (value == 0).any():
            raise ValueError(f"{where} = 0; the neuron would ignore its input (an all-zero network)")
        if param == "r" and not np.isfinite(value).all():
            raise ValueError(f"{where} = {_first(value, ~np.isfinite(value))}; r must be finite")


def metadata_dt(metadata: Mapping[str, Any] | None) -> float | None:
    """``metadata["dt"]`` as a float, or None when the graph does not say."""
    if not isinstance(metadata, Mapping) or "dt" not in metadata:
        return None
    return check_dt(np.asarray(metadata["dt"]).reshape(-1)[0], "the graph's metadata['dt']")
