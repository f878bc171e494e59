"""What a neuron kind is: its options (:class:`NeuronConfig`), its contract (:class:`NeuronKind`) and
the registry that names it (:data:`NEURON_KINDS`), without Flax.

A kind declares its initial state, its single step, its sequence function (by default a
``lax.scan`` of the step), its learnable parameters (:class:`ParamSpec`: a shape and an
initializer, which the Linen and NNX layers turn into their own parameters), the
:class:`NeuronConfig` options it reads, and what NIR can express of it. Everything else follows from
the declaration: the config check refuses an option the kind does not read, the contract test runs
every registered kind, the NIR export writes a kind that declares a NIR form and refuses the others
by name. A new neuron is one file and one registration (diffrax's ``AbstractSolver``: ``init`` and
``step`` are the abstract methods)::

    @register_neuron("lif09")
    class LIF09(NeuronKind):
        \"\"\"A LIF whose leak is fixed at 0.9: h_t = 0.9 v_{t-1} + x_t.\"\"\"
        options = ("bpta_alpha", "decay_input")

        def init_state(self, cfg, params, shape, dtype):
            return neurons.lif_init_state(shape, dtype)

        def step(self, cfg, params):
            kwargs = cfg.step_kwargs(params)
            return lambda state, x_t, te_t=None: neurons.lif_step(state, x_t, decay=0.9, **kwargs)

The 0.1 form, ``NeuronKind(step=..., init_state=..., sequence=..., create_params=...)`` with
functions, still builds a kind (the functions stand in for the methods).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
from jax.typing import ArrayLike, DTypeLike

from snnjax.core import surrogate
from snnjax.core.neurons.ce_lif import THRESHOLD_DRIVES
from snnjax.core.registry import Registry
from snnjax.core.scan import time_scan

Array = jax.Array
State = Any  # a neuron's NamedTuple state (LIFState, ALIFState, ...)
Params = Mapping[str, Array]
StepFn = Callable[..., tuple[State, Array]]  # step(state, x_t, te_t=None) -> (state, s_t)
PRECISIONS = ("float32", "bfloat16")
AUTO_UNROLL_MAX_STEPS = 16  # NeuronConfig(unroll="auto") unrolls loops of up to this many steps


@dataclasses.dataclass(frozen=True)
class NeuronConfig:
    """Everything that defines a layer's neurons (``config.model.neuron`` in a training config).

    Each kind reads only some of the options below (:attr:`NeuronKind.options`); a value other than
    the default for an option the kind does not read is an error naming the option that was
    probably meant (``NeuronConfig(kind="leaky", beta=0.95)``: beta is ALIF's adaptation strength,
    a Leaky neuron's leak is ``decay``), rather than a setting silently ignored.

    Attributes:
        kind: a registered neuron kind (``NEURON_KINDS``): ``lif``, ``llc_lif``, ``if``, ``plif``,
            ``alif``, ``ce_lif``, ``leaky`` (snnTorch's ``Leaky``), ``cuba_lif`` (snnTorch's ``Synaptic``),
            ``lif_no_reset``.
        decay: membrane leak k (``lif``, ``alif``, ``ce_lif``, ``leaky``'s and ``cuba_lif``'s β;
            ``llc_lif`` and ``plif`` learn it, ``if`` has none).
        v_th: threshold (θ₀ for ``alif`` and ``ce_lif``); the initial value with ``learn_threshold``.
        reset: ``hard`` or ``soft`` (``leaky``/``cuba_lif``: by the previous spike, snnTorch's convention).
        detach_reset: stop gradients through the reset.
        bpta_alpha: BPTA coefficient (0 = off; the LIF family only).
        decay_input: SpikingJelly's ``h = k v + (1 - k) x`` form (the llc-lif released code;
            SpikingJelly's PLIF default).
        surrogate: spike function name (``surrogate.SURROGATES``).
        surrogate_param: its parameter (α, width, slope, eps: the factory's first argument), > 0;
            None (the default) = the surrogate's own default. In a training config the key is a
            float placeholder (``config_dict.placeholder(float)``), so
            ``--config.model.neuron.surrogate_param=2.0`` sets it and ``null`` in an old run's
            ``config.json`` still reads as None.
        strict_threshold: fire on ``u > v_th`` (snnTorch, Spyx) instead of ``u >= v_th``.
        learn_threshold: make ``v_th`` a parameter (snnTorch's ``learn_threshold=True``), initialised at
            ``v_th``; one per channel with ``per_channel``.
        a_init: initial LLC-LIF leak parameter (0 gives sigmoid(0) = 0.5).
        init_tau: initial PLIF time constant (SpikingJelly's ``init_tau``; ``w = -log(init_tau - 1)``).
        per_channel: one leak (and threshold) per channel instead of one per layer.
        rho: threshold decay (``alif``, ``ce_lif``).
        beta: adaptation strength (``alif``).
        syn_decay: synaptic current decay α (``cuba_lif``).
        unroll: ``lax.scan`` unroll factor, or ``"auto"`` (:meth:`scan_unroll`): the whole loop
            unrolled for sequences of up to :data:`AUTO_UNROLL_MAX_STEPS` steps, else 1.
        remat: rematerialise the neuron's time loop (:func:`snnjax.core.scan.time_scan` of
            :meth:`NeuronKind.step`): 0 off; 1 ``jax.checkpoint`` of every step; ``k > 1`` every ``k``
            steps (the backward pass stores the state at chunk starts and recomputes one chunk at a
            time). Same values and gradients (issue 33; ``model.remat`` does the same for the whole
            sequence net's per-step scan). ``True`` reads as 1. Needs ``impl="scan"``.
        impl: ``scan`` (``lax.scan``, every neuron) or ``pallas`` (the fused kernel of
            :mod:`snnjax.kernels`, LIF, LLC-LIF, IF, PLIF, ALIF and CE-LIF).
        precision: ``float32``, or ``bfloat16``: the layer emits bfloat16 spikes (exactly 0/1), so
            the synapses after it multiply and accumulate in bfloat16, while the membrane stays
            float32 (the input current is cast up before the neuron). An analog first-layer input
            stays float32.
    """

    kind: str = "lif"
    decay: float = 0.5
    v_th: float = 1.0
    reset: str = "hard"
    detach_reset: bool = False
    bpta_alpha: float = 0.0
    decay_input: bool = False
    surrogate: str = "sigmoid"
    surrogate_param: float | None = None
    strict_threshold: bool = False
    learn_threshold: bool = False
    a_init: float = 0.0
    init_tau: float = 2.0
    per_channel: bool = False
    rho: float = 0.99
    beta: float = 1.8
    syn_decay: float = 0.5
    threshold_drive: str = "u_prev"
    unroll: int | str = "auto"
    remat: int = 0
    impl: str = "scan"
    precision: str = "float32"

    def __post_init__(self):
        kind = NEURON_KINDS.lookup(self.kind)
        if isinstance(self.unroll, str) and self.unroll.isdigit():  # "--config.model.neuron.unroll=8"
            object.__setattr__(self, "unroll", int(self.unroll))
        if isinstance(self.remat, bool) or (isinstance(self.remat, str) and self.remat.isdigit()):
            object.__setattr__(self, "remat", int(self.remat))  # True: every step; "--...remat=28"
        problems = _switch_problems(self, kind) + _surrogate_problems(self) + unused_options(self, kind)
        if problems:
            raise ValueError(problems[0])

    def scan_unroll(self, num_steps: int) -> int:
        """The ``lax.scan`` unroll factor for a ``num_steps``-step sequence.

        ``"auto"`` unrolls the whole loop when ``num_steps <= AUTO_UNROLL_MAX_STEPS`` (the T = 4–16
        conv nets), else 1 (long sequences, where an unrolled body only compiles slower). A fully
        unrolled loop has no while loop, so XLA fuses across steps and writes the stacked outputs
        directly instead of into a zero-filled loop buffer: the seed net at T = 8, batch 16 trained
        5 % and evaluated 22 % faster on a 2-core CPU (jax 0.10; ``python -m bench.run --unroll 1 auto``,
        ``docs/performance.md``).
        """
        if self.unroll == "auto":
            return num_steps if num_steps <= AUTO_UNROLL_MAX_STEPS else 1
        return int(self.unroll)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> NeuronConfig:
        """From a config section; unknown keys are an error that names the known ones."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - fields
        if unknown:
            raise ValueError(f"unknown neuron config keys {sorted(unknown)}; known keys: {sorted(fields)}")
        return cls(**dict(values))

    def spike_fn(self) -> surrogate.SpikeFunction:
        fn = surrogate.get(self.surrogate) if self.surrogate_param is None else surrogate.get(self.surrogate, self.surrogate_param)
        return surrogate.strict(fn) if self.strict_threshold else fn

    def reset_kwargs(self, params: Params | None = None) -> dict[str, Any]:
        """``v_th``, ``spike_fn``, ``reset``, ``detach_reset``: what every neuron function takes."""
        v_th = (params or {}).get("v_th", self.v_th)
        return dict(v_th=v_th, spike_fn=self.spike_fn(), reset=self.reset, detach_reset=self.detach_reset)

    def step_kwargs(self, params: Params | None = None) -> dict[str, Any]:
        """The keyword arguments every LIF-family neuron function takes, from this config."""
        return dict(self.reset_kwargs(params), bpta_alpha=self.bpta_alpha, decay_input=self.decay_input)

    def replace(self, **changes: Any) -> NeuronConfig:
        return dataclasses.replace(self, **changes)

    def with_kind(self, kind: str) -> NeuronConfig:
        """This config for neurons of another ``kind``, the options that kind does not read back at
        their defaults (so that, e.g., OSSA's LLC-LIF neurons inside a LIF net with ``decay=0.9``
        are not refused for a ``decay`` they would ignore)."""
        target = NEURON_KINDS.lookup(kind)
        if target.options is None:
            return dataclasses.replace(self, kind=kind)
        read = _read_options(self, target)
        defaults = {f.name: f.default for f in dataclasses.fields(self) if f.name not in read}
        return dataclasses.replace(self, **defaults, kind=kind)


def _switch_problems(cfg: NeuronConfig, kind: NeuronKind) -> list[str]:
    """The reset, impl, BPTA, unroll, threshold-drive and precision values ``cfg``'s kind cannot run."""
    problems = []
    if cfg.reset not in ("hard", "soft"):
        problems.append(f"neuron.reset must be 'hard' or 'soft', got {cfg.reset!r}")
    if cfg.impl not in ("scan", "pallas"):
        problems.append(f"neuron.impl must be 'scan' or 'pallas', got {cfg.impl!r}")
    elif cfg.impl not in kind.impls:
        with_pallas = [n for n, k in NEURON_KINDS.items() if "pallas" in k.impls]
        problems.append(f"neuron.impl={cfg.impl!r} supports {sorted(with_pallas)}; use impl='scan' for {cfg.kind}")
    if cfg.impl == "pallas" and cfg.strict_threshold:
        problems.append("neuron.impl='pallas' fires on u >= v_th only; use impl='scan' with strict_threshold=True")
    if cfg.bpta_alpha and not kind.bpta:
        problems.append(f"neuron.bpta_alpha is for the LIF family; {cfg.kind!r} has no BPTA path (set it to 0)")
    if cfg.decay_input and not kind.decay_input:
        problems.append(f"neuron.decay_input is not an option of {cfg.kind!r} (set it to False)")
    if not (cfg.unroll == "auto" or (isinstance(cfg.unroll, int) and not isinstance(cfg.unroll, bool)
                                     and cfg.unroll >= 1)):
        problems.append(f"neuron.unroll must be a positive int or 'auto', got {cfg.unroll!r}")
    if isinstance(cfg.remat, bool) or not isinstance(cfg.remat, int) or cfg.remat < 0:
        problems.append(f"neuron.remat must be 0 (off), 1 (every step) or k > 1 (every k steps), got {cfg.remat!r}")
    elif cfg.remat and cfg.impl == "pallas":
        problems.append("neuron.remat rematerialises the step scan; use impl='scan' with it (the pallas kernel "
                        "keeps its own residuals)")
    if cfg.threshold_drive not in THRESHOLD_DRIVES:
        problems.append(f"neuron.threshold_drive must be one of {THRESHOLD_DRIVES}, got {cfg.threshold_drive!r}")
    elif cfg.impl == "pallas" and cfg.threshold_drive != "u_prev":
        problems.append("neuron.impl='pallas' computes threshold_drive='u_prev' only; use impl='scan'")
    if cfg.precision not in PRECISIONS:
        problems.append(f"neuron.precision must be one of {PRECISIONS}, got {cfg.precision!r}")
    return problems


def _surrogate_problems(cfg: NeuronConfig) -> list[str]:
    """An unknown surrogate, or a ``surrogate_param`` it has no use for or refuses."""
    if cfg.surrogate not in surrogate.SURROGATES:
        return [f"unknown surrogate {cfg.surrogate!r}; choose one of {sorted(surrogate.SURROGATES)}"]
    if cfg.surrogate_param is None:
        return []
    if not inspect.signature(surrogate.SURROGATES[cfg.surrogate]).parameters:
        return [f"surrogate {cfg.surrogate!r} has no parameter; set neuron.surrogate_param=None"]
    try:
        surrogate.get(cfg.surrogate, cfg.surrogate_param)
    except ValueError as error:
        return [f"neuron.surrogate_param={cfg.surrogate_param}: {error}"]
    return []


class ParamSpec(NamedTuple):
    """A learnable parameter of a layer's neurons, without a framework: its shape and its
    initializer ``init(key, shape, dtype=float32) -> Array`` (the signature of ``jax.nn.initializers``,
    which Linen's ``module.param(name, init, shape)`` calls and the NNX layer calls for its
    ``nnx.Param``)."""

    shape: tuple[int, ...]
    init: Callable[..., Array]

    def initial_value(self, key: Array) -> Array:
        return self.init(key, self.shape)


def per_layer_or_channel(cfg: NeuronConfig, channels: int, value: float) -> ParamSpec:
    """A parameter initialised at ``value``: a scalar per layer, or ``[channels]`` with ``cfg.per_channel``."""
    return ParamSpec((channels,) if cfg.per_channel else (), jax.nn.initializers.constant(value))


class NeuronKind:
    """One kind of neuron: how a layer of it starts, steps, runs a sequence, what it learns, which
    options it reads and what NIR can express of it (an entry of :data:`NEURON_KINDS`).

    Subclasses define :meth:`init_state` and :meth:`step`, and where they have them
    :meth:`sequence` (a faster multi-step function), :meth:`parameters` and :meth:`nir_leak`; the
    class attributes declare the rest. Methods take the layer's :class:`NeuronConfig` ``cfg`` and
    its parameter values ``params`` (``{name: array}``, as :meth:`parameters` declares them, plus
    ``v_th`` with ``learn_threshold``).

    Attributes:
        needs_te: the neuron takes a temporal encoding ``te [T, N]`` (CE-LIF).
        bpta: accepts ``bpta_alpha``.
        decay_input: accepts ``decay_input``.
        impls: the ``impl`` values it runs with.
        options: the :class:`NeuronConfig` options it reads besides the ones every kind reads
            (:data:`COMMON_OPTIONS`), e.g. ``("decay", "rho", "beta")``; a non-default value of any
            other option is refused (:func:`unused_options`). None checks nothing (the 0.1 form's
            default).
        display_name: the name error messages use (``"LLC-LIF"``); None: the registered name.
        nir_options: the options NIR's LIF/IF node carries for this kind (its leak from
            :meth:`nir_leak`), besides ``kind``, ``v_th`` and ``strict_threshold``; any other option
            away from its default is refused by name. None: NIR cannot express the kind.
        nir_refusal: why NIR cannot express it (None: a generic reason).
    """

    needs_te: bool = False
    bpta: bool = True
    decay_input: bool = True
    impls: tuple[str, ...] = ("scan",)
    options: tuple[str, ...] | None = None
    display_name: str | None = None
    nir_options: tuple[str, ...] | None = None
    nir_refusal: str | None = None

    def __init__(self, step: Callable[[NeuronConfig, Params], StepFn] | None = None,
                 init_state: Callable[..., State] | None = None,
                 sequence: Callable[..., tuple[Array, State]] | None = None,
                 create_params: Callable[[Any, NeuronConfig, int], dict[str, Array]] | None = None, **declared: Any):
        """The 0.1 form: functions for the methods, keywords for the class attributes.

        ``step(cfg, params) -> fn``, ``init_state(cfg, params, shape, dtype)``,
        ``sequence(cfg, params, x_seq, state, te)`` and ``create_params(module, cfg, channels)``
        (which calls ``module.param(name, init_fn, *init_args)``; it is recorded as
        :class:`ParamSpec` entries). A subclass is built with no arguments.
        """
        for name, fn in (("step", step), ("init_state", init_state), ("sequence", sequence)):
            if fn is not None:
                setattr(self, name, fn)
        if create_params is not None:
            self.parameters = functools.partial(_recorded_parameters, create_params)
        for name, value in declared.items():
            if name not in _DECLARATIONS:
                raise TypeError(f"NeuronKind got an unknown keyword {name!r}; it takes step, init_state, sequence, "
                                f"create_params, {', '.join(_DECLARATIONS)}")
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def init_state(self, cfg: NeuronConfig, params: Params, shape: tuple[int, ...], dtype: DTypeLike) -> State:
        """The resting state of neurons ``shape`` (one step's input shape, ``[B, ..., N]``)."""
        raise NotImplementedError(f"{type(self).__name__} must define init_state(cfg, params, shape, dtype)")

    def step(self, cfg: NeuronConfig, params: Params) -> StepFn:
        """The pure single step with ``cfg``'s constants and ``params`` bound:
        ``fn(state, x_t, te_t=None) -> (state, s_t)``."""
        raise NotImplementedError(f"{type(self).__name__} must define step(cfg, params)")

    def sequence(self, cfg: NeuronConfig, params: Params, x_seq: Array, state: State | None,
                 te: Array | None) -> tuple[Array, State]:
        """The kind over ``x_seq [T, ...]`` from ``state`` (None: rest): ``(s_seq, final state)``.

        This default scans :meth:`step` (``lax.scan``, ``unroll=cfg.unroll``)::

            state, s_seq = jax.lax.scan(step, state, x_seq)
        """
        return self.scan_steps(cfg, params, x_seq, state, te)

    def scan_steps(self, cfg: NeuronConfig, params: Params, x_seq: Array, state: State | None,
                   te: Array | None, remat: int = 0) -> tuple[Array, State]:
        """:meth:`step` scanned over ``x_seq`` (:func:`snnjax.core.scan.time_scan`, rematerialised
        every ``remat`` steps): ``(s_seq, final state)``."""
        if state is None:
            state = self.init_state(cfg, params, x_seq.shape[1:], x_seq.dtype)
        fn = self.step(cfg, params)
        if te is None:
            state, s_seq = time_scan(lambda st, x_t: fn(st, x_t), state, x_seq, unroll=cfg.unroll, remat=remat)
        else:
            state, s_seq = time_scan(lambda st, xs: fn(st, *xs), state, (x_seq, te), unroll=cfg.unroll, remat=remat)
        return s_seq, state

    def run(self, cfg: NeuronConfig, params: Params, x_seq: Array, state: State | None = None,
            te: Array | None = None) -> tuple[Array, State]:
        """:meth:`sequence` with ``cfg.unroll="auto"`` resolved for this ``T``; with ``cfg.remat``, the
        rematerialised scan of :meth:`step` instead (:meth:`scan_steps`: the contract test holds every
        kind's :meth:`sequence` equal to it)."""
        cfg = dataclasses.replace(cfg, unroll=cfg.scan_unroll(x_seq.shape[0]))
        if cfg.remat:
            return self.scan_steps(cfg, params, x_seq, state, te, remat=cfg.remat)
        return self.sequence(cfg, params, x_seq, state, te)

    def parameters(self, cfg: NeuronConfig, channels: int) -> dict[str, ParamSpec]:
        """The kind's own learnable parameters for a layer of ``channels`` neurons per position
        (``v_th`` with ``learn_threshold`` is every kind's: :func:`layer_parameters`). None here."""
        return {}

    def nir_leak(self, cfg: NeuronConfig, params: Params) -> ArrayLike:
        """The leak ``k`` in [0, 1] of NIR's LIF node for this layer (a scalar or ``[C]``; 1: NIR's IF),
        for kinds that declare :attr:`nir_options`."""
        raise NotImplementedError(f"{type(self).__name__} declares no NIR form")


_DECLARATIONS = ("needs_te", "bpta", "decay_input", "impls", "options", "display_name", "nir_options", "nir_refusal")


class _Recorder:
    """Stands in for the Flax module a 0.1 ``create_params(module, cfg, channels)`` received."""

    def __init__(self):
        self.specs: dict[str, ParamSpec] = {}

    def param(self, name: str, init_fn: Callable[..., Array], *init_args: Any) -> Array:
        value = init_fn(jax.random.key(0), *init_args)
        init = lambda key, shape=None, dtype=None: init_fn(key, *init_args)  # noqa: E731  (the recorded call)
        self.specs[name] = ParamSpec(tuple(jax.numpy.shape(value)), init)
        return value


def _recorded_parameters(create_params: Callable, cfg: NeuronConfig, channels: int) -> dict[str, ParamSpec]:
    recorder = _Recorder()
    create_params(recorder, cfg, channels)
    return recorder.specs


def layer_parameters(cfg: NeuronConfig, channels: int) -> dict[str, ParamSpec]:
    """Every learnable parameter of a layer of ``cfg``'s neurons, in creation order: the kind's own
    (:meth:`NeuronKind.parameters`), then ``v_th`` with ``learn_threshold`` (initialised at
    ``cfg.v_th``, per layer or per channel)."""
    specs = dict(NEURON_KINDS.lookup(cfg.kind).parameters(cfg, channels))
    if cfg.learn_threshold:
        specs["v_th"] = per_layer_or_channel(cfg, channels, cfg.v_th)
    return specs


NEURON_KINDS: Registry[NeuronKind] = Registry("neuron kind")


def register_neuron(name: str, kind: NeuronKind | type[NeuronKind] | None = None, *, overwrite: bool = False):
    """Adds a neuron kind, usable as ``NeuronConfig(kind=name)`` and ``config.model.neuron.kind=name``.

    ``kind`` is a :class:`NeuronKind` or a subclass (registered as its instance). Without ``kind``
    it is a class decorator, ``@register_neuron("lif09")``, that registers the class and returns it.
    """
    if kind is None:
        def register(cls: type[NeuronKind]) -> type[NeuronKind]:
            register_neuron(name, cls, overwrite=overwrite)
            return cls

        return register
    if isinstance(kind, type) and issubclass(kind, NeuronKind):
        kind = kind()
    if not isinstance(kind, NeuronKind):
        raise TypeError(f"register_neuron({name!r}, ...) takes a NeuronKind subclass or instance, got {kind!r}")
    return NEURON_KINDS.register(name, kind, overwrite=overwrite)


# Options every kind reads (per_channel also shapes a learnt threshold, so it counts with learn_threshold).
COMMON_OPTIONS = ("kind", "v_th", "reset", "detach_reset", "surrogate", "surrogate_param", "strict_threshold",
                  "learn_threshold", "unroll", "remat", "impl", "precision")

# What an option is for, and where it belongs: the first half of the message for a misplaced option.
_OPTION_MEANING = {
    "decay": "decay is the fixed membrane leak of lif, alif, ce_lif, leaky and cuba_lif",
    "beta": "beta is ALIF's adaptation strength",
    "rho": "rho is the threshold decay of alif and ce_lif",
    "syn_decay": "syn_decay is cuba_lif's synaptic current decay (snnTorch Synaptic's alpha)",
    "a_init": "a_init is LLC-LIF's initial leak parameter (leak sigmoid(a_init))",
    "init_tau": "init_tau is PLIF's initial time constant",
    "per_channel": "per_channel is for one learnt leak (llc_lif, plif) or learnt threshold (learn_threshold=True) per channel",
    "bpta_alpha": "bpta_alpha is the BPTA path of the LIF family",
    "decay_input": "decay_input is SpikingJelly's h = k v + (1 - k) x form of the LIF family",
    "threshold_drive": "threshold_drive is which membrane drives CE-LIF's threshold",
}


def _read_options(cfg: NeuronConfig, kind: NeuronKind) -> set[str]:
    return set(COMMON_OPTIONS) | set(kind.options or ()) | ({"per_channel"} if cfg.learn_threshold else set())


def _leak_option(display: str, kind: NeuronKind) -> str:
    """Where a kind's leak is set: what a user who wrote a misplaced leak option probably meant."""
    options = kind.options or ()
    if "decay" in options:
        return f"for the leak of {display} neurons use decay"
    if "a_init" in options:
        return f"{display} neurons learn their leak sigmoid(a), starting from a_init"
    if "init_tau" in options:
        return f"{display} neurons learn their leak, starting from init_tau (leak 1 - 1/init_tau)"
    return f"{display} neurons have no leak"


def unused_options(cfg: NeuronConfig, kind: NeuronKind) -> list[str]:
    """One message per option ``cfg`` sets (not at its default) that ``cfg.kind`` does not read.

    Each says what the option is for and what was probably meant, e.g. ``NeuronConfig(kind="leaky",
    beta=0.95)``, as a snnTorch user writes it: "neuron.beta=0.95 is not read by Leaky neurons: beta
    is ALIF's adaptation strength; for the leak of Leaky neurons use decay". Empty for kinds that
    declare no :attr:`NeuronKind.options`.
    """
    if kind.options is None:
        return []
    read = _read_options(cfg, kind)
    display = kind.display_name or repr(cfg.kind)
    problems = []
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        if field.name in read or value == field.default:
            continue
        meaning = _OPTION_MEANING.get(field.name, f"{field.name} is an option of other kinds")
        if field.name in ("decay", "beta", "syn_decay", "a_init", "init_tau"):
            hint = _leak_option(display, kind)
        elif field.name == "rho":
            hint = f"{display} neurons fire at the fixed threshold v_th"
        else:
            hint = f"leave it at {field.default!r}"
        problems.append(f"neuron.{field.name}={value!r} is not read by {display} neurons: {meaning}; {hint}")
    return problems
