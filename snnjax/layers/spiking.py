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
import inspect
from typing import Any, Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax import neurons, surrogate
from snnjax.registry import Registry

Array = jax.Array
State = Any  # a neuron's NamedTuple state (LIFState, ALIFState, ...)
Params = Mapping[str, Array]
PRECISIONS = ("float32", "bfloat16")
AUTO_UNROLL_MAX_STEPS = 16  # NeuronConfig(unroll="auto") unrolls loops of up to this many steps


@dataclasses.dataclass(frozen=True)
class NeuronConfig:
    """Everything that defines a layer's neurons (``config.model.neuron`` in a training config).

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
        surrogate_param: its parameter (α, width, slope, eps: the factory's first argument); None = default.
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
    unroll: int | str = "auto"
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
        if self.precision not in PRECISIONS:
            raise ValueError(f"neuron.precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.surrogate not in surrogate.SURROGATES:
            raise ValueError(
                f"unknown surrogate {self.surrogate!r}; choose one of {sorted(surrogate.SURROGATES)}"
            )
        if self.surrogate_param is not None and not inspect.signature(surrogate.SURROGATES[self.surrogate]).parameters:
            raise ValueError(f"surrogate {self.surrogate!r} has no parameter; set neuron.surrogate_param=None")

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
    """

    step: Callable[[NeuronConfig, Params], StepFn]
    init_state: Callable[[NeuronConfig, Params, tuple[int, ...], Any], State]
    sequence: Callable[..., tuple[Array, State]] | None = None
    create_params: Callable[[nn.Module, NeuronConfig, int], dict[str, Array]] = _no_params
    needs_te: bool = False
    bpta: bool = True
    decay_input: bool = True
    impls: tuple[str, ...] = ("scan",)

    def run(self, cfg: NeuronConfig, params: Params, x_seq: Array, state: State | None = None,
            te: Array | None = None) -> tuple[Array, State]:
        """The kind over a sequence ``x_seq [T, ...]`` from ``state`` (None: rest)."""
        cfg = dataclasses.replace(cfg, unroll=cfg.scan_unroll(x_seq.shape[0]))  # "auto" resolved for this T
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
    )


def _llc_lif_kind() -> NeuronKind:
    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.llc_lif_step(st, x, p["a"], **cfg.step_kwargs(p)),
        init_state=_lif_state,
        sequence=lambda cfg, p, x, st, te: neurons.llc_lif(x, p["a"], state=st, unroll=cfg.unroll,
                                                           impl=cfg.impl, **cfg.step_kwargs(p)),
        create_params=lambda m, cfg, c: {"a": leak_parameter(m, cfg, c)},
        impls=("scan", "pallas"),
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
    )


def _plif_kind() -> NeuronKind:
    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.plif_step(st, x, p["w"], **cfg.step_kwargs(p)),
        init_state=_lif_state,
        sequence=lambda cfg, p, x, st, te: neurons.plif(x, p["w"], state=st, unroll=cfg.unroll, impl=cfg.impl,
                                                        **cfg.step_kwargs(p)),
        create_params=lambda m, cfg, c: {"w": _per_layer_or_channel(m, cfg, c, "w", neurons.plif_w_init(cfg.init_tau))},
        impls=("scan", "pallas"),
    )


def _alif_kind() -> NeuronKind:
    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.alif_step(
            st, x, decay=cfg.decay, rho=cfg.rho, beta=cfg.beta, **cfg.step_kwargs(p)),
        init_state=lambda cfg, p, shape, dtype: neurons.alif_init_state(shape, dtype),
        sequence=lambda cfg, p, x, st, te: neurons.alif(x, decay=cfg.decay, rho=cfg.rho, beta=cfg.beta, state=st,
                                                        unroll=cfg.unroll, impl=cfg.impl, **cfg.step_kwargs(p)),
        impls=("scan", "pallas"),
    )


def _ce_lif_kind() -> NeuronKind:
    def init(cfg, p, shape, dtype):
        return neurons.ce_lif_init_state(shape, p.get("v_th", cfg.v_th), dtype)

    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te: neurons.ce_lif_step(st, x, te, decay=cfg.decay, rho=cfg.rho,
                                                                  **cfg.step_kwargs(p)),
        init_state=init,
        sequence=lambda cfg, p, x, st, te: neurons.ce_lif(x, te, decay=cfg.decay, rho=cfg.rho, state=st,
                                                          unroll=cfg.unroll, impl=cfg.impl, **cfg.step_kwargs(p)),
        needs_te=True,
        impls=("scan", "pallas"),
    )


def _leaky_kind() -> NeuronKind:
    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.leaky_step(st, x, decay=cfg.decay, **cfg.reset_kwargs(p)),
        init_state=lambda cfg, p, shape, dtype: neurons.leaky_init_state(shape, dtype),
        bpta=False,
        decay_input=False,
    )


def _cuba_lif_kind() -> NeuronKind:
    return NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.cuba_lif_step(
            st, x, decay=cfg.decay, syn_decay=cfg.syn_decay, **cfg.reset_kwargs(p)),
        init_state=lambda cfg, p, shape, dtype: neurons.cuba_lif_init_state(shape, dtype),
        bpta=False,
        decay_input=False,
    )


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
        if self.is_mutable_collection("membranes"):  # snnjax.monitor: every step's state
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


def sow_spikes(module: nn.Module, s_seq: Array) -> None:
    """Sows a layer's mean firing rate (``spikes/rate``) and per-neuron spike counts (``spike_counts/count``)."""
    module.sow("spikes", "rate", jnp.mean(s_seq.astype(jnp.float32)))
    if module.is_mutable_collection("spike_counts"):
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
