"""A spiking neuron layer: holds a neuron's learnable parameters and runs it over time.

The dynamics live in :mod:`snnjax.neurons` as pure functions and the neuron kinds
(:class:`NeuronKind`, :data:`NEURON_KINDS`, :class:`NeuronConfig`) in
:mod:`snnjax.core.neurons.kind`, re-exported here. This module only turns a kind's parameter specs
into Linen parameters (the LLC-LIF leak ``a``, the PLIF ``w``, a learnable threshold), runs the kind
and reports the firing rate in the ``spikes`` collection (``rate``, a scalar) and each neuron's
spike count in ``spike_counts`` (``count``, ``[B, ...]``, for the spike-count regularisers of
:mod:`snnjax.losses`; only collected when that collection is mutable). Neuron kinds are looked up
by name in ``NEURON_KINDS``; :func:`register_neuron` adds your own.

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

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.core.precision import at_least_float32
from snnjax.core.neurons.kind import (  # noqa: F401  (re-exported: the 0.1 names of this module)
    AUTO_UNROLL_MAX_STEPS,
    COMMON_OPTIONS,
    NEURON_KINDS,
    PRECISIONS,
    NeuronConfig,
    NeuronKind,
    Params,
    ParamSpec,
    StepFn,
    layer_parameters,
    per_layer_or_channel,
    register_neuron,
    unused_options,
)

Array = jax.Array
State = Any  # a neuron's NamedTuple state (LIFState, ALIFState, ...)


def leak_parameter(module: nn.Module, cfg: NeuronConfig, channels: int, name: str = "a") -> Array:
    """Creates the LLC-LIF leak parameter ``a``: a scalar per layer, or ``[channels]``."""
    spec = per_layer_or_channel(cfg, channels, cfg.a_init)
    return module.param(name, spec.init, spec.shape)


def neuron_parameters(module: nn.Module, cfg: NeuronConfig, channels: int, a: Array | None = None) -> dict[str, Array]:
    """The learnable parameters of ``cfg``'s neurons (:func:`layer_parameters`), created in ``module``
    as ``module.param(name, spec.init, spec.shape)``; ``a`` given: a shared LLC-LIF leak, not created."""
    return {name: a if name == "a" and a is not None else module.param(name, spec.init, spec.shape)
            for name, spec in layer_parameters(cfg, channels).items()}


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
    each only when that collection is recorded (:func:`records`). The counts are float32, or float64
    in a float64 model (the regularisers compute in their precision)."""
    if records(module, "spikes"):
        module.sow("spikes", "rate", jnp.mean(s_seq.astype(jnp.float32)))
    if records(module, "spike_counts"):
        module.sow("spike_counts", "count", jnp.sum(s_seq.astype(at_least_float32(s_seq)), axis=0))


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
