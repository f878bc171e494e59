"""A spiking neuron layer as a Flax NNX module, over the same pure neuron functions as the Linen layer.

The module holds only the neurons' learnable parameters (the LLC-LIF leak ``a``, the PLIF ``w``, a
learnable threshold ``v_th``) as ``nnx.Param`` with the names, shapes and initial values of
:class:`snnjax.layers.SpikingNeuron`; the dynamics are the ``NEURON_KINDS`` entry's pure functions,
so every registered kind (your own included) works here as it does in Linen.

State is an explicit value, as everywhere in snnjax, never an ``nnx.Variable``: the module follows
the stateful-layer contract ``layer(x, state) -> (out, state)``::

    layer = SpikingNeuron(128, NeuronConfig(kind="llc_lif"))
    state = layer.initial_state((32,))                    # rest, for a batch of 32: [32, 128]
    s1, state = layer(x_seq[:100], state)                 # x_seq [T, 32, 128] -> s [T, 32, 128]
    s2, state = layer(x_seq[100:], state)                 # = one call on x_seq

    # one step at a time, in your own lax.scan (the pure functions' order is (state, x_t)):
    state, s_seq = jax.lax.scan(lambda st, x_t: layer.step(x_t, st)[::-1], layer.initial_state((32,)), x_seq)

A membrane kept in an ``nnx.Variable`` and assigned inside a raw ``jax.lax.scan`` body fails with
Flax's ``TraceContextError`` (the Variable belongs to the trace outside the scan); with the state
as the scan's carry, ``step`` reads parameters only and works in ``lax.scan``, ``nnx.scan``,
``nnx.jit`` and ``jax.jit`` alike (docs/nnx.md).
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import DTypeLike

from snnjax.core.neurons.kind import NEURON_KINDS, NeuronConfig, NeuronKind, layer_parameters, per_layer_or_channel

Array = jax.Array
State = Any  # a neuron's NamedTuple state (LIFState, ALIFState, CELIFState, ...)


def create_neuron_params(module: nnx.Module, config: NeuronConfig, features: int, *,
                         rngs: nnx.Rngs | None = None, own_leak: bool = True) -> tuple[str, ...]:
    """Creates ``config``'s neuron parameters as ``nnx.Param`` attributes of ``module``.

    From the same specs as the Linen layer (:func:`snnjax.core.neurons.kind.layer_parameters`: the
    kind's own parameters, then a learnable threshold), so names, shapes and initial values are
    Linen's. ``own_leak=False``: an LLC-LIF leak ``a`` is passed in at call time by the block that
    owns it (the conv blocks share it with their LLC-BN). ``rngs`` only matters for a user kind whose
    parameters are drawn at random (the built-in ones are constants).

    Returns:
        The created parameters' names, in creation order.
    """
    key = rngs.params() if rngs is not None else jax.random.key(0)
    specs = layer_parameters(config, features)
    if not own_leak:
        specs.pop("a", None)
    for i, (name, spec) in enumerate(specs.items()):
        setattr(module, name, nnx.Param(spec.initial_value(jax.random.fold_in(key, i))))
    return tuple(specs)


def create_leak(config: NeuronConfig, features: int, *, rngs: nnx.Rngs | None = None) -> nnx.Param:
    """The LLC-LIF leak ``a`` as the Linen ``leak_parameter`` creates it (a scalar, or ``[features]``
    with ``per_channel``), for a block that owns it and shares it with its neurons and LLC-BN."""
    key = rngs.params() if rngs is not None else jax.random.key(0)
    return nnx.Param(per_layer_or_channel(config, features, config.a_init).initial_value(key))


def neuron_param_values(module: nnx.Module, names: Sequence[str], a: Array | None = None) -> dict[str, Array]:
    """``{name: value}`` of the parameters :func:`create_neuron_params` made (``a``: a shared leak)."""
    params = {name: getattr(module, name)[...] for name in names}
    if a is not None:
        params["a"] = a
    return params


def _precision_in(config: NeuronConfig, x: Array, te: Array | None) -> tuple[Array, Array | None]:
    """``precision="bfloat16"``: the membrane runs in float32 (the input current is cast up)."""
    if config.precision != "bfloat16":
        return x, te
    return x.astype(jnp.float32), None if te is None else jnp.asarray(te).astype(jnp.float32)


def _precision_out(config: NeuronConfig, s: Array) -> Array:
    return s.astype(jnp.bfloat16) if config.precision == "bfloat16" else s


def _checked_kind(config: NeuronConfig, te: Array | None) -> NeuronKind:
    kind = NEURON_KINDS.lookup(config.kind)
    if kind.needs_te and te is None:
        raise ValueError(f"a {config.kind} layer needs its temporal encoding te ([T, N], or te_t [N] for a step)")
    return kind


class SpikingNeuron(nnx.Module):
    """``config.kind`` neurons over time: ``x_seq [T, B, ..., features] -> s_seq`` of the same shape.

    The same layer as :class:`snnjax.layers.SpikingNeuron` (its parameters, its pure functions and
    its results for the same weights), with the state always explicit in and out.

    Args:
        features: the number of neurons per position (the input's last axis); the size of
            per-channel parameters (``config.per_channel``).
        config: the neurons (kind, leak, threshold, surrogate, ...).
        rngs: only for a user kind whose parameters are drawn at random.
        own_leak: False when a block passes the LLC-LIF leak ``a`` at call time.
    """

    def __init__(self, features: int, config: NeuronConfig = NeuronConfig(), *, rngs: nnx.Rngs | None = None,
                 own_leak: bool = True):
        self.features = features
        self.config = config
        self.param_names = create_neuron_params(self, config, features, rngs=rngs, own_leak=own_leak)

    def params(self, a: Array | None = None) -> dict[str, Array]:
        """The parameters as the kind's pure functions take them (``{"a": ..., "v_th": ...}``)."""
        return neuron_param_values(self, self.param_names, a)

    def initial_state(self, batch_shape: int | Sequence[int], dtype: DTypeLike = jnp.float32, *,
                      a: Array | None = None) -> State:
        """The resting state for inputs ``[*batch_shape, features]``.

        ``batch_shape`` is every axis of one step's input but the last: ``(B,)`` after a dense
        layer, ``(B, H, W)`` after a convolution. CE-LIF's threshold state starts at ``v_th``.
        """
        batch_shape = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        kind = NEURON_KINDS.lookup(self.config.kind)
        return kind.init_state(self.config, self.params(a), batch_shape + (self.features,), dtype)

    def __call__(self, x_seq: Array, state: State | None = None, *, te: Array | None = None,
                 a: Array | None = None) -> tuple[Array, State]:
        """Runs the neurons over ``x_seq [T, B, ..., features]`` from ``state`` (None: rest).

        Args:
            x_seq: input currents, time-major.
            state: the state to continue from (:meth:`initial_state`, or a previous call's).
            te: CE-LIF's temporal encoding ``[T, features]`` (ignored by other kinds).
            a: the LLC-LIF leak, when the layer was built with ``own_leak=False``.

        Returns:
            ``(s_seq, state)``: spikes ``[T, B, ..., features]`` and the state after the last step.
        """
        cfg = self.config
        kind = _checked_kind(cfg, te)
        x_seq, te = _precision_in(cfg, x_seq, te)
        s_seq, state = kind.run(cfg, self.params(a), x_seq, state, te if kind.needs_te else None)
        return _precision_out(cfg, s_seq), state

    def step(self, x_t: Array, state: State | None = None, *, te_t: Array | None = None,
             a: Array | None = None) -> tuple[Array, State]:
        """One time step: ``x_t [B, ..., features] -> (s_t, state)`` (``te_t [features]`` for CE-LIF).

        Scanning ``step`` over ``x_seq`` from the same state gives :meth:`__call__`'s spikes and state.
        """
        cfg = self.config
        kind = _checked_kind(cfg, te_t)
        x_t, te_t = _precision_in(cfg, x_t, te_t)
        params = self.params(a)
        if state is None:
            state = kind.init_state(cfg, params, x_t.shape, x_t.dtype)
        fn = kind.step(cfg, params)
        state, s_t = fn(state, x_t, te_t) if kind.needs_te else fn(state, x_t)
        return _precision_out(cfg, s_t), state
