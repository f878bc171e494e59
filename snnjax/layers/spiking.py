"""A spiking neuron layer: holds a neuron's learnable parameters and runs it over time.

The dynamics live in :mod:`snnjax.neurons` as pure functions; this module only creates the
parameters (the LLC-LIF leak ``a``, ...), picks the spike function and reports the firing rate in
the ``spikes`` collection.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax import neurons, surrogate

Array = jax.Array

NEURON_KINDS = ("lif", "llc_lif", "alif", "ce_lif")
PRECISIONS = ("float32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class NeuronConfig:
    """Everything that defines a layer's neurons (``config.model.neuron`` in a training config).

    Attributes:
        kind: ``lif``, ``llc_lif``, ``alif`` or ``ce_lif``.
        decay: membrane leak k (``lif``, ``alif``, ``ce_lif``; ``llc_lif`` learns it as sigmoid(a)).
        v_th: threshold (θ₀ for ``alif`` and ``ce_lif``).
        reset: ``hard`` or ``soft``.
        detach_reset: stop gradients through the reset.
        bpta_alpha: BPTA coefficient (0 = off).
        decay_input: SpikingJelly's ``h = k v + (1 - k) x`` form (the llc-lif released code).
        surrogate: spike function name (``sigmoid``, ``atan``, ``boxcar``, ``triangle``, ``bpsa``).
        surrogate_param: its parameter (α for sigmoid/atan, width for boxcar/triangle); None = default.
        a_init: initial LLC-LIF leak parameter (0 gives sigmoid(0) = 0.5).
        per_channel: one leak per channel instead of one per layer (LLC-LIF).
        rho: threshold decay (``alif``, ``ce_lif``).
        beta: adaptation strength (``alif``).
        unroll: ``lax.scan`` unroll factor.
        impl: ``scan`` (``lax.scan``, every neuron) or ``pallas`` (the fused kernel of
            :mod:`snnjax.kernels`, every kind).
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
    a_init: float = 0.0
    per_channel: bool = False
    rho: float = 0.99
    beta: float = 1.8
    unroll: int = 1
    impl: str = "scan"
    precision: str = "float32"

    def __post_init__(self):
        if self.kind not in NEURON_KINDS:
            raise ValueError(f"unknown neuron kind {self.kind!r}; choose one of {NEURON_KINDS}")
        if self.reset not in ("hard", "soft"):
            raise ValueError(f"neuron.reset must be 'hard' or 'soft', got {self.reset!r}")
        if self.impl not in ("scan", "pallas"):
            raise ValueError(f"neuron.impl must be 'scan' or 'pallas', got {self.impl!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"neuron.precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.surrogate not in surrogate.SURROGATES:
            raise ValueError(
                f"unknown surrogate {self.surrogate!r}; choose one of {sorted(surrogate.SURROGATES)}"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "NeuronConfig":
        """From a config section; unknown keys are an error that names the known ones."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - fields
        if unknown:
            raise ValueError(f"unknown neuron config keys {sorted(unknown)}; known keys: {sorted(fields)}")
        return cls(**dict(values))

    def spike_fn(self) -> surrogate.SpikeFunction:
        if self.surrogate_param is None:
            return surrogate.get(self.surrogate)
        param = "width" if self.surrogate in ("boxcar", "triangle") else "eps" if self.surrogate == "bpsa" else "alpha"
        return surrogate.get(self.surrogate, **{param: self.surrogate_param})

    def step_kwargs(self) -> dict[str, Any]:
        """The keyword arguments every neuron function takes, from this config."""
        return dict(
            v_th=self.v_th,
            spike_fn=self.spike_fn(),
            reset=self.reset,
            detach_reset=self.detach_reset,
            bpta_alpha=self.bpta_alpha,
            decay_input=self.decay_input,
        )

    def replace(self, **changes: Any) -> "NeuronConfig":
        return dataclasses.replace(self, **changes)


class SpikingNeuron(nn.Module):
    """Runs ``config.kind`` neurons over ``x_seq: [T, B, ...]`` and returns spikes of the same shape.

    ``a`` (LLC-LIF) may be passed in by a block that shares it with its LLC-BN; otherwise the layer
    creates it (a scalar, or one per channel). ``te`` (CE-LIF) is the temporal encoding ``[T, N]``.
    """

    config: NeuronConfig = NeuronConfig()

    @nn.compact
    def __call__(self, x_seq: Array, *, a: Array | None = None, te: Array | None = None) -> Array:
        cfg = self.config
        common = dict(cfg.step_kwargs(), unroll=cfg.unroll)
        if cfg.precision == "bfloat16":  # float32 membrane, bfloat16 spikes out
            x_seq = x_seq.astype(jnp.float32)
            te = None if te is None else jnp.asarray(te).astype(jnp.float32)
        if cfg.kind == "lif":
            s, _ = neurons.lif(x_seq, decay=cfg.decay, impl=cfg.impl, **common)
        elif cfg.kind == "llc_lif":
            if a is None:
                a = leak_parameter(self, cfg, x_seq.shape[-1])
            s, _ = neurons.llc_lif(x_seq, a, impl=cfg.impl, **common)
        elif cfg.kind == "alif":
            s, _ = neurons.alif(x_seq, decay=cfg.decay, rho=cfg.rho, beta=cfg.beta, impl=cfg.impl, **common)
        else:
            if te is None:
                raise ValueError("a ce_lif layer needs its temporal encoding te [T, N]")
            s, _ = neurons.ce_lif(x_seq, te, decay=cfg.decay, rho=cfg.rho, impl=cfg.impl, **common)
        self.sow("spikes", "rate", jnp.mean(s.astype(jnp.float32)))
        return s.astype(jnp.bfloat16) if cfg.precision == "bfloat16" else s


def leak_parameter(module: nn.Module, cfg: NeuronConfig, channels: int, name: str = "a") -> Array:
    """Creates the LLC-LIF leak parameter ``a``: a scalar per layer, or ``[channels]``."""
    shape = (channels,) if cfg.per_channel else ()
    return module.param(name, nn.initializers.constant(cfg.a_init), shape)


def step_function(cfg: NeuronConfig, a: Array | None = None):
    """The single-step form of ``cfg``'s neuron, for layers that write their own scan.

    Returns ``(init_state, step)`` with ``init_state(shape, dtype) -> state`` and
    ``step(state, x_t, te_t) -> (state, s_t)`` (``te_t`` is used by CE-LIF only).
    """
    common = cfg.step_kwargs()
    if cfg.kind == "lif":
        return neurons.lif_init_state, lambda st, x, te=None: neurons.lif_step(st, x, decay=cfg.decay, **common)
    if cfg.kind == "llc_lif":
        return neurons.lif_init_state, lambda st, x, te=None: neurons.llc_lif_step(st, x, a, **common)
    if cfg.kind == "alif":
        return neurons.alif_init_state, lambda st, x, te=None: neurons.alif_step(
            st, x, decay=cfg.decay, rho=cfg.rho, beta=cfg.beta, **common
        )
    init = lambda shape, dtype: neurons.ce_lif_init_state(shape, cfg.v_th, dtype)
    return init, lambda st, x, te: neurons.ce_lif_step(st, x, te, decay=cfg.decay, rho=cfg.rho, **common)
