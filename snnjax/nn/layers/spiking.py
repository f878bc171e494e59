"""A spiking neuron layer: holds a neuron's learnable parameters and runs it over time.

The dynamics live in :mod:`snnjax.neurons` as pure functions; this module only creates the
parameters (the LLC-LIF leak ``a``, the PLIF ``w``, a learnable threshold), picks the spike function
and reports the firing rate in the ``spikes`` collection (``rate``, a scalar) and each neuron's spike
count in ``spike_counts`` (``count``, ``[B, ...]``, for the spike-count regularisers of
:mod:`snnjax.losses`; only collected when that collection is mutable). Neuron kinds are looked up by name in
``NEURON_KINDS``; :func:`register_neuron` adds your own.

The layer follows the stateful-layer contract ``layer(x_seq, state) -> (s_seq, state)`` when called
with ``return_state=True`` (as Flax's ``nn.RNN(return_carry=True)``)::

    layer = SpikingNeuron(NeuronConfig(kind="lif"))
    s1, state = layer.apply(variables, x_seq[:100], return_state=True)
    s2, state = layer.apply(variables, x_seq[100:], state, return_state=True)   # = one call on x_seq

Inside a bigger model (the conv nets), where threading states by hand through every layer is not
practical, the layer carries its state in the ``neuron_state`` collection instead, like BatchNorm's
``batch_stats``: when that collection is mutable (or given) and no ``state`` is passed, the layer
starts from the collection's ``state`` (rest if absent) and stores its final state there::

    out, st = model.apply(variables, x[:, :100], train=False, mutable=["neuron_state"])
    out, st = model.apply({**variables, **st}, x[:, 100:], train=False, mutable=["neuron_state"])
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any, Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.core import neurons
from snnjax.core import surrogate
from snnjax.core.registry import Registry

Array = jax.Array
State = Any  # a neuron's NamedTuple state (LIFState, ALIFState, ...)
Params = Mapping[str, Array]
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
            ``alif``, ``ce_lif``, ``leaky`` (snnTorch's ``Leaky``), ``cuba_lif`` (snnTorch's ``Synaptic``).
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
        remat: rematerialise the neuron's time loop (``jax.checkpoint`` of the whole sequence): the
            backward pass recomputes the loop from the layer's input instead of storing every step's
            intermediates (``[T, ...]`` arrays per step quantity), for the same values and gradients
            (issue 33; ``model.remat`` does the same for the whole net's per-step scan).
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
    remat: bool = False
    impl: str = "scan"
    precision: str = "float32"

    def __post_init__(self):
        kind = NEURON_KINDS.lookup(self.kind)
        if self.reset not in ("hard", "soft"):
            raise ValueError(f"neuron.reset must be 'hard' or 'soft', got {self.reset!r}")
        if self.impl not in ("scan", "pallas"):
            raise ValueError(f"neuron.impl must be 'scan' or 'pallas', got {self.impl!r}")
        if self.impl not in kind.impls:
            with_pallas = [n for n, k in NEURON_KINDS.items() if "pallas" in k.impls]
            raise ValueError(f"neuron.impl={self.impl!r} supports {sorted(with_pallas)}; use impl='scan' for {self.kind}")
        if self.impl == "pallas" and self.strict_threshold:
            raise ValueError("neuron.impl='pallas' fires on u >= v_th only; use impl='scan' with strict_threshold=True")
        if self.bpta_alpha and not kind.bpta:
            raise ValueError(f"neuron.bpta_alpha is for the LIF family; {self.kind!r} has no BPTA path (set it to 0)")
        if self.decay_input and not kind.decay_input:
            raise ValueError(f"neuron.decay_input is not an option of {self.kind!r} (set it to False)")
        if isinstance(self.unroll, str) and self.unroll.isdigit():  # "--config.model.neuron.unroll=8"
            object.__setattr__(self, "unroll", int(self.unroll))
        if not (self.unroll == "auto" or (isinstance(self.unroll, int) and not isinstance(self.unroll, bool)
                                          and self.unroll >= 1)):
            raise ValueError(f"neuron.unroll must be a positive int or 'auto', got {self.unroll!r}")
        if self.threshold_drive not in neurons.THRESHOLD_DRIVES:
            raise ValueError(f"neuron.threshold_drive must be one of {neurons.THRESHOLD_DRIVES}, "
                             f"got {self.threshold_drive!r}")
        if self.impl == "pallas" and self.threshold_drive != "u_prev":
            raise ValueError("neuron.impl='pallas' computes threshold_drive='u_prev' only; use impl='scan'")
        if self.precision not in PRECISIONS:
            raise ValueError(f"neuron.precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.surrogate not in surrogate.SURROGATES:
            raise ValueError(
                f"unknown surrogate {self.surrogate!r}; choose one of {sorted(surrogate.SURROGATES)}"
            )
        if self.surrogate_param is not None and not inspect.signature(surrogate.SURROGATES[self.surrogate]).parameters:
            raise ValueError(f"surrogate {self.surrogate!r} has no parameter; set neuron.surrogate_param=None")
        if self.surrogate_param is not None:
            try:
                surrogate.get(self.surrogate, self.surrogate_param)
            except ValueError as error:
                raise ValueError(f"neuron.surrogate_param={self.surrogate_param}: {error}") from None
        unused = unused_options(self, kind)
        if unused:
            raise ValueError(unused[0])

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
    def from_mapping(cls, values: Mapping[str, Any]) -> "NeuronConfig":
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

    def replace(self, **changes: Any) -> "NeuronConfig":
        return dataclasses.replace(self, **changes)

    def with_kind(self, kind: str) -> "NeuronConfig":
        """This config for neurons of another ``kind``, the options that kind does not read back at
        their defaults (so that, e.g., OSSA's LLC-LIF neurons inside a LIF net with ``decay=0.9``
        are not refused for a ``decay`` they would ignore)."""
        target = NEURON_KINDS.lookup(kind)
        if target.options is None:
            return dataclasses.replace(self, kind=kind)
        read = set(COMMON_OPTIONS) | set(target.options) | ({"per_channel"} if self.learn_threshold else set())
        defaults = {f.name: f.default for f in dataclasses.fields(self) if f.name not in read}
        return dataclasses.replace(self, **defaults, kind=kind)


StepFn = Callable[..., tuple[State, Array]]  # step(state, x_t, te_t=None) -> (state, s_t)


def _no_params(module: nn.Module, cfg: NeuronConfig, channels: int) -> dict[str, Array]:
    return {}


@dataclasses.dataclass(frozen=True)
class NeuronKind:
    """How a layer builds and runs one kind of neuron (an entry of ``NEURON_KINDS``).

    Attributes:
        step: ``step(cfg, params) -> fn`` with ``fn(state, x_t, te_t=None) -> (state, s_t)``, the pure
            single-step function with this config's constants and the layer's parameters bound.
        init_state: ``init_state(cfg, params, shape, dtype) -> state``, the resting state.
        sequence: optional ``sequence(cfg, params, x_seq, state, te) -> (s_seq, state)``, the
            multi-step function (``state`` may be None: rest); default: ``lax.scan`` of ``step``.
        create_params: ``create_params(module, cfg, channels) -> {name: param}``, the neuron's own
            learnable parameters (``module.param``); default none. ``v_th`` with ``learn_threshold``
            is created by the layer for every kind.
        needs_te: the neuron takes a temporal encoding ``te [T, N]`` (CE-LIF).
        bpta: accepts ``bpta_alpha``.
        decay_input: accepts ``decay_input``.
        impls: the ``impl`` values it runs with.
        options: the :class:`NeuronConfig` options it reads besides the ones every kind reads
            (:data:`COMMON_OPTIONS`), e.g. ``("decay", "rho", "beta")``; a non-default value of any
            other option is refused (:func:`unused_options`). None (the default, for kinds
            registered before this existed) checks nothing.
    """

    step: Callable[[NeuronConfig, Params], StepFn]
    init_state: Callable[[NeuronConfig, Params, tuple[int, ...], Any], State]
    sequence: Callable[..., tuple[Array, State]] | None = None
    create_params: Callable[[nn.Module, NeuronConfig, int], dict[str, Array]] = _no_params
    needs_te: bool = False
    bpta: bool = True
    decay_input: bool = True
    impls: tuple[str, ...] = ("scan",)
    options: tuple[str, ...] | None = None

    def run(self, cfg: NeuronConfig, params: Params, x_seq: Array, state: State | None = None,
            te: Array | None = None) -> tuple[Array, State]:
        """The kind over a sequence ``x_seq [T, ...]`` from ``state`` (None: rest); ``cfg.remat``:
        under ``jax.checkpoint`` (the backward pass recomputes the loop instead of storing it)."""
        cfg = dataclasses.replace(cfg, unroll=cfg.scan_unroll(x_seq.shape[0]))  # "auto" resolved for this T
        if cfg.remat:
            return jax.checkpoint(functools.partial(self._run, cfg))(params, x_seq, state, te)
        return self._run(cfg, params, x_seq, state, te)

    def _run(self, cfg: NeuronConfig, params: Params, x_seq: Array, state: State | None,
             te: Array | None) -> tuple[Array, State]:
        if self.sequence is not None:
            return self.sequence(cfg, params, x_seq, state, te)
        if state is None:
            state = self.init_state(cfg, params, x_seq.shape[1:], x_seq.dtype)
        fn = self.step(cfg, params)
        if te is None:
            state, s_seq = jax.lax.scan(lambda st, x_t: fn(st, x_t), state, x_seq, unroll=cfg.unroll)
        else:
            state, s_seq = jax.lax.scan(lambda st, xs: fn(st, *xs), state, (x_seq, te), unroll=cfg.unroll)
        return s_seq, state


def _per_layer_or_channel(module: nn.Module, cfg: NeuronConfig, channels: int, name: str, value: float) -> Array:
    shape = (channels,) if cfg.per_channel else ()
    return module.param(name, nn.initializers.constant(value), shape)


def leak_parameter(module: nn.Module, cfg: NeuronConfig, channels: int, name: str = "a") -> Array:
    """Creates the LLC-LIF leak parameter ``a``: a scalar per layer, or ``[channels]``."""
    return _per_layer_or_channel(module, cfg, channels, name, cfg.a_init)


def _lif_state(cfg, params, shape, dtype):
    return neurons.lif_init_state(shape, dtype)


def _lif_kind() -> NeuronKind:
    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.lif_step(st, x, decay=cfg.decay, **cfg.step_kwargs(p)),
        init_state=_lif_state,
        sequence=lambda cfg, p, x, st, te: neurons.lif(x, decay=cfg.decay, state=st, unroll=cfg.unroll,
                                                       impl=cfg.impl, **cfg.step_kwargs(p)),
        impls=("scan", "pallas"),
        options=("decay", "bpta_alpha", "decay_input"),
    )


def _llc_lif_kind() -> NeuronKind:
    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.llc_lif_step(st, x, p["a"], **cfg.step_kwargs(p)),
        init_state=_lif_state,
        sequence=lambda cfg, p, x, st, te: neurons.llc_lif(x, p["a"], state=st, unroll=cfg.unroll,
                                                           impl=cfg.impl, **cfg.step_kwargs(p)),
        create_params=lambda m, cfg, c: {"a": leak_parameter(m, cfg, c)},
        impls=("scan", "pallas"),
        options=("a_init", "per_channel", "bpta_alpha", "decay_input"),
    )


def _if_kind() -> NeuronKind:
    def kwargs(cfg, p):
        return dict(cfg.reset_kwargs(p), bpta_alpha=cfg.bpta_alpha)

    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.if_step(st, x, **kwargs(cfg, p)),
        init_state=_lif_state,
        sequence=lambda cfg, p, x, st, te: neurons.if_neuron(x, state=st, unroll=cfg.unroll, impl=cfg.impl,
                                                             **kwargs(cfg, p)),
        decay_input=False,
        impls=("scan", "pallas"),
        options=("bpta_alpha",),
    )


def _plif_kind() -> NeuronKind:
    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.plif_step(st, x, p["w"], **cfg.step_kwargs(p)),
        init_state=_lif_state,
        sequence=lambda cfg, p, x, st, te: neurons.plif(x, p["w"], state=st, unroll=cfg.unroll, impl=cfg.impl,
                                                        **cfg.step_kwargs(p)),
        create_params=lambda m, cfg, c: {"w": _per_layer_or_channel(m, cfg, c, "w", neurons.plif_w_init(cfg.init_tau))},
        impls=("scan", "pallas"),
        options=("init_tau", "per_channel", "bpta_alpha", "decay_input"),
    )


def _alif_kind() -> NeuronKind:
    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.alif_step(
            st, x, decay=cfg.decay, rho=cfg.rho, beta=cfg.beta, **cfg.step_kwargs(p)),
        init_state=lambda cfg, p, shape, dtype: neurons.alif_init_state(shape, dtype),
        sequence=lambda cfg, p, x, st, te: neurons.alif(x, decay=cfg.decay, rho=cfg.rho, beta=cfg.beta, state=st,
                                                        unroll=cfg.unroll, impl=cfg.impl, **cfg.step_kwargs(p)),
        impls=("scan", "pallas"),
        options=("decay", "rho", "beta", "bpta_alpha", "decay_input"),
    )


def _ce_lif_kind() -> NeuronKind:
    def init(cfg, p, shape, dtype):
        return neurons.ce_lif_init_state(shape, p.get("v_th", cfg.v_th), dtype)

    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te: neurons.ce_lif_step(st, x, te, decay=cfg.decay, rho=cfg.rho,
                                                                  threshold_drive=cfg.threshold_drive,
                                                                  **cfg.step_kwargs(p)),
        init_state=init,
        sequence=lambda cfg, p, x, st, te: neurons.ce_lif(x, te, decay=cfg.decay, rho=cfg.rho, state=st,
                                                          unroll=cfg.unroll, impl=cfg.impl,
                                                          threshold_drive=cfg.threshold_drive, **cfg.step_kwargs(p)),
        needs_te=True,
        impls=("scan", "pallas"),
        options=("decay", "rho", "bpta_alpha", "decay_input", "threshold_drive"),
    )


def _leaky_kind() -> NeuronKind:
    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.leaky_step(st, x, decay=cfg.decay, **cfg.reset_kwargs(p)),
        init_state=lambda cfg, p, shape, dtype: neurons.leaky_init_state(shape, dtype),
        bpta=False,
        decay_input=False,
        options=("decay",),
    )


def _cuba_lif_kind() -> NeuronKind:
    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.cuba_lif_step(
            st, x, decay=cfg.decay, syn_decay=cfg.syn_decay, **cfg.reset_kwargs(p)),
        init_state=lambda cfg, p, shape, dtype: neurons.cuba_lif_init_state(shape, dtype),
        bpta=False,
        decay_input=False,
        options=("decay", "syn_decay"),
    )


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


_DISPLAY_NAMES = {"lif": "LIF", "llc_lif": "LLC-LIF", "if": "IF", "plif": "PLIF", "alif": "ALIF",
                  "ce_lif": "CE-LIF", "leaky": "Leaky", "cuba_lif": "CuBa-LIF"}


def _leak_option(display: str, kind: "NeuronKind") -> str:
    """Where a kind's leak is set: what a user who wrote a misplaced leak option probably meant."""
    options = kind.options or ()
    if "decay" in options:
        return f"for the leak of {display} neurons use decay"
    if "a_init" in options:
        return f"{display} neurons learn their leak sigmoid(a), starting from a_init"
    if "init_tau" in options:
        return f"{display} neurons learn their leak, starting from init_tau (leak 1 - 1/init_tau)"
    return f"{display} neurons have no leak"


def unused_options(cfg: NeuronConfig, kind: "NeuronKind") -> list[str]:
    """One message per option ``cfg`` sets (not at its default) that ``cfg.kind`` does not read.

    Each says what the option is for and what was probably meant, e.g. ``NeuronConfig(kind="leaky",
    beta=0.95)``, as a snnTorch user writes it: "neuron.beta=0.95 is not read by Leaky neurons: beta
    is ALIF's adaptation strength; for the leak of Leaky neurons use decay". Empty for kinds that
    declare no :attr:`NeuronKind.options`.
    """
    if kind.options is None:
        return []
    read = set(COMMON_OPTIONS) | set(kind.options) | ({"per_channel"} if cfg.learn_threshold else set())
    display = _DISPLAY_NAMES.get(cfg.kind, repr(cfg.kind))
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


NEURON_KINDS: Registry[NeuronKind] = Registry("neuron kind", {
    "lif": _lif_kind(),
    "llc_lif": _llc_lif_kind(),
    "if": _if_kind(),
    "plif": _plif_kind(),
    "alif": _alif_kind(),
    "ce_lif": _ce_lif_kind(),
    "leaky": _leaky_kind(),
    "cuba_lif": _cuba_lif_kind(),
})


def register_neuron(name: str, kind: NeuronKind, *, overwrite: bool = False) -> NeuronKind:
    """Adds a neuron kind, usable as ``NeuronConfig(kind=name)`` and ``config.model.neuron.kind=name``.

    Example (a LIF whose leak is fixed at 0.9 whatever ``neuron.decay`` says)::

        register_neuron("lif09", NeuronKind(
            step=lambda cfg, p: lambda st, x, te=None: neurons.lif_step(st, x, decay=0.9, **cfg.step_kwargs(p)),
            init_state=lambda cfg, p, shape, dtype: neurons.lif_init_state(shape, dtype)))
    """
    return NEURON_KINDS.register(name, kind, overwrite=overwrite)


def neuron_parameters(module: nn.Module, cfg: NeuronConfig, channels: int, a: Array | None = None) -> dict[str, Array]:
    """The learnable parameters of ``cfg``'s neurons, created in ``module`` (``a`` given: shared LLC-LIF leak)."""
    kind = NEURON_KINDS.lookup(cfg.kind)
    params = {"a": a} if a is not None and cfg.kind == "llc_lif" else kind.create_params(module, cfg, channels)
    if cfg.learn_threshold:
        params["v_th"] = _per_layer_or_channel(module, cfg, channels, "v_th", cfg.v_th)
    return params


CARRIED_STATE = "neuron_state"  # the collection that carries neuron states between calls of a model


def carries_state(module: nn.Module) -> bool:
    """Whether this apply carries neuron states in :data:`CARRIED_STATE` (the collection is mutable
    or was given; never while initialising, so ``model.init`` does not create it)."""
    if module.is_initializing():
        return False
    return module.is_mutable_collection(CARRIED_STATE) or CARRIED_STATE in module.scope.root.variables()


class SpikingNeuron(nn.Module):
    """Runs ``config.kind`` neurons over ``x_seq: [T, B, ...]`` and returns spikes of the same shape.

    ``a`` (LLC-LIF) may be passed in by a block that shares it with its LLC-BN; otherwise the layer
    creates it (a scalar, or one per channel). ``te`` (CE-LIF) is the temporal encoding ``[T, N]``.
    ``state`` continues from a carried state (None: rest); ``return_state=True`` returns
    ``(s_seq, final_state)``.
    """

    config: NeuronConfig = NeuronConfig()

    @nn.compact
    def __call__(self, x_seq: Array, state: State | None = None, *, a: Array | None = None,
                 te: Array | None = None, return_state: bool = False) -> Array | tuple[Array, State]:
        cfg = self.config
        kind = NEURON_KINDS.lookup(cfg.kind)
        if kind.needs_te and te is None:
            raise ValueError(f"a {cfg.kind} layer needs its temporal encoding te [T, N]")
        if cfg.precision == "bfloat16":  # float32 membrane, bfloat16 spikes out
            x_seq = x_seq.astype(jnp.float32)
            te = None if te is None else jnp.asarray(te).astype(jnp.float32)
        params = neuron_parameters(self, cfg, x_seq.shape[-1], a)
        te = te if kind.needs_te else None
        carried = None
        if state is None and carries_state(self):
            carried = self.variable(CARRIED_STATE, "state", kind.init_state, cfg, params, x_seq.shape[1:], x_seq.dtype)
            state = carried.value
        if records(self, "membranes"):  # snnjax.monitor: every step's state
            self.sow("membranes", "state", state_trace(kind, cfg, params, x_seq, state, te))
        s, state = kind.run(cfg, params, x_seq, state, te)
        if carried is not None and self.is_mutable_collection(CARRIED_STATE):
            carried.value = state
        sow_spikes(self, s)
        if cfg.precision == "bfloat16":
            s = s.astype(jnp.bfloat16)
        return (s, state) if return_state else s


def state_trace(kind: NeuronKind, cfg: NeuronConfig, params: Params, x_seq: Array, state: State | None,
                te: Array | None) -> State:
    """Every step's state (each field ``[T, ...]``) of ``kind`` run over ``x_seq`` from ``state``."""
    if state is None:
        state = kind.init_state(cfg, params, x_seq.shape[1:], x_seq.dtype)
    fn = kind.step(cfg, params)

    def body(st, xs):
        st, _ = fn(st, *xs) if te is not None else fn(st, xs)
        return st, st

    _, trace = jax.lax.scan(body, state, (x_seq, te) if te is not None else x_seq)
    return trace


RECORDED_COLLECTIONS = ("spikes", "spike_counts", "membranes", "synops")  # sown only when asked for


def records(module: nn.Module, collection: str) -> bool:
    """Whether this call records into ``collection`` (one of :data:`RECORDED_COLLECTIONS`).

    Only when the caller asked for it (``apply(..., mutable=[collection])``) and never in
    ``model.init``: init makes every collection mutable, and recording there would return each
    layer's membranes, spike counts and rates beside the parameters (for the smoke net at batch 64,
    23 MiB of traces against 0.6 MiB of parameters), which ``nnx.bridge`` wrappers then turn into
    state. ``init`` returns ``params`` and ``batch_stats`` only.
    """
    return not module.is_initializing() and module.is_mutable_collection(collection)


def sow_spikes(module: nn.Module, s_seq: Array) -> None:
    """Sows a layer's mean firing rate (``spikes/rate``) and per-neuron spike counts (``spike_counts/count``),
    each only when that collection is recorded (:func:`records`)."""
    if records(module, "spikes"):
        module.sow("spikes", "rate", jnp.mean(s_seq.astype(jnp.float32)))
    if records(module, "spike_counts"):
        module.sow("spike_counts", "count", jnp.sum(s_seq.astype(jnp.float32), axis=0))


def step_function(cfg: NeuronConfig, a: Array | None = None, params: Params | None = None):
    """The single-step form of ``cfg``'s neuron, for layers that write their own scan.

    Returns ``(init_state, step)`` with ``init_state(shape, dtype) -> state`` and
    ``step(state, x_t, te_t) -> (state, s_t)`` (``te_t`` is used by CE-LIF only). ``params`` are
    the layer's neuron parameters (:func:`neuron_parameters`); ``a`` alone is the LLC-LIF leak.
    """
    params = dict(params or {})
    if a is not None:
        params["a"] = a
    kind = NEURON_KINDS.lookup(cfg.kind)
    fn = kind.step(cfg, params)
    step = fn if kind.needs_te else (lambda st, x, te=None: fn(st, x))
    return (lambda shape, dtype: kind.init_state(cfg, params, shape, dtype)), step
