"""The spiking conv/dense nets of the llc-lif and bpsa-bpta papers as NNX modules.

The same nets as :class:`snnjax.models.ConvSNN` (spec strings such as ``16c3-p2-32c3-p2-100-10``,
the switches of :class:`snnjax.models.conv_net.ConvOptions`), with the Linen names for every
parameter and batch statistic (``conv0/conv/kernel``, ``conv0/a``, ``conv0/norm/scale``,
``conv0/norm/mean``, ``fc0/kernel``, ``fc0_neuron/v_th``), so :mod:`snnjax.nnx.convert` moves
weights and statistics between the two, and the two compute the same outputs and gradients.

LLC-BN (llc-lif §3.3) normalises with the batch's statistics in training and updates its running
statistics, ``nnx.BatchStat`` variables, in place (as ``nnx.BatchNorm``; Linen's ``batch_stats``):

.. math::  y = \\lambda\\,\\alpha\\,k_\\tau(a)\\,\\frac{x - \\mathrm{E}[x]}{\\sqrt{\\mathrm{Var}[x] + \\epsilon}} + \\beta

Neuron states are explicit: ``model(x, state, train=...) -> (ModelOutput, state)``, the state a dict
from each neuron layer's Linen path (``"conv0/neuron"``, ``"fc1_neuron"``) to its neuron state,
where the Linen model carries the same states in its ``neuron_state`` collection. Randomness is
explicit too: ``key`` feeds the ``rate`` encoder and the time-consistent dropout masks.

OSSA (text and code forms) and the local classifiers (``per_conv``, ``code``) are here; not yet (Linen
only) the released llc-lif code's onset block (``ossa_onset="separate"``), its first-neuron split
and double trunk call (``trunk_calls=2``): the constructor refuses them by name.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import DTypeLike

from snnjax.core import encoders
from snnjax.nn.layers.local_classifier import block_boundary
from snnjax.nn.layers.pooling import pool
from snnjax.nn.layers.spiking import NeuronConfig
from snnjax.core.voting import vote
from snnjax.nn.models.conv_net import ConvOptions
from snnjax.core.output import ModelOutput
from snnjax.nn.models.spec import SPATIAL, Layer, parse_spec
from snnjax.nn.nnx.dropout import time_consistent_dropout
from snnjax.nn.nnx.llc_batch_norm import LLCBatchNorm
from snnjax.nn.nnx.local_classifier import LocalClassifier
from snnjax.nn.nnx.neuron import SpikingNeuron, create_leak
from snnjax.nn.nnx.ossa import OSSA
from snnjax.nn.nnx.synapse import SeqConv, SeqDense

Array = jax.Array
ConvState = dict[str, Any]  # neuron layer path -> its neuron state


class ConvBlock(nnx.Module):
    """conv → norm → [ReLU] → neurons: ``[T, B, H, W, C] -> [T, B, H, W, F]`` (spikes, and the analog
    pre-activation). ``static=True``: the input is ``[B, H, W, C]`` (direct coding), conv and norm run
    once and are repeated over ``opts.time_steps``. LLC-LIF neurons: the block owns the leak ``a``
    and, with ``llc_bn_leak="shared"``, scales its LLC-BN by ``sigmoid(a)`` (text)."""

    def __init__(self, in_features: int, features: int, kernel: int, neuron: NeuronConfig, opts: ConvOptions, *,
                 static: bool = False, rngs: nnx.Rngs):
        self.opts, self.static = opts, static
        use_bias = opts.norm == "none" or opts.conv_bias
        self.conv = SeqConv(in_features, features, kernel, use_bias=use_bias, time_major=not static,
                            impl=opts.conv_impl, rngs=rngs)
        a = None
        if neuron.kind == "llc_lif":
            a = create_leak(neuron, features, rngs=rngs)
        self.a = a
        per_step_stats = opts.norm_stats == "per_step"
        per_step = per_step_stats and not static
        every_step = static and per_step_stats and opts.static_norm_updates == "per_step"
        norm_kwargs = dict(per_step=per_step, repeats=opts.time_steps if every_step else 1)
        self.shared_leak = opts.norm == "llc_bn" and opts.llc_bn_leak == "shared" and a is not None
        self.static_updates_every_step = every_step
        norm = None
        if opts.norm == "bn":
            norm = LLCBatchNorm(features, alpha=1.0, own_leak=False, **norm_kwargs)
        elif opts.norm == "llc_bn":
            norm = LLCBatchNorm(features, alpha=opts.llc_bn_alpha, own_leak=not self.shared_leak, **norm_kwargs)
        self.norm = norm
        self.neuron = SpikingNeuron(features, neuron, rngs=rngs, own_leak=self.a is None)

    def __call__(self, x: Array, state: Any = None, *, train: bool,
                 time_steps: int | None = None) -> tuple[Array, Array, Any]:
        """Returns ``(spikes [T, B, ...], analog pre-activation, neuron state)``; ``time_steps``: T of a
        static block's call (default ``opts.time_steps``)."""
        time_steps = self.opts.time_steps if time_steps is None else time_steps
        y = self.conv(x)
        a = None if self.a is None else self.a[...]
        if self.norm is not None:
            repeats = time_steps if self.static_updates_every_step else 1
            y = self.norm(y, train=train, leak=jax.nn.sigmoid(a) if self.shared_leak else None, repeats=repeats)
        if self.opts.relu_before_neuron:
            y = jax.nn.relu(y)
        if self.static:
            y = encoders.direct(y, time_steps)
        s, state = self.neuron(y, state, a=a)
        return s, y, state


def _check_supported(opts: ConvOptions) -> None:
    linen_only = {"ossa_onset": opts.ossa and opts.ossa_onset != "shared", "trunk_calls": opts.trunk_calls != 1,
                  "first_neuron": opts.first_neuron != "shared"}
    asked = [name for name, on in linen_only.items() if on]
    if asked:
        raise ValueError(f"snnjax.nnx.ConvSNN does not have {asked} yet (the released llc-lif code's onset block "
                         "and double trunk call are in the Linen snnjax.models.ConvSNN)")


def _llc_lif(neuron: NeuronConfig) -> NeuronConfig:
    """OSSA's neurons: ``neuron`` as LLC-LIF (``with_kind`` where NeuronConfig has it: it drops the
    options LLC-LIF does not read)."""
    return neuron.with_kind("llc_lif") if hasattr(neuron, "with_kind") else neuron.replace(kind="llc_lif")


def _step_shape(layers: Sequence[Layer], opts: ConvOptions, input_shape: tuple[int, ...]) -> tuple[tuple[int, ...], bool]:
    """One time step's per-example shape after the encoder, and whether the first layer runs once (static)."""
    first_is_conv = layers[0].kind == "conv"
    first_is_dense = layers[0].kind == "dense" and not any(l.kind in SPATIAL for l in layers)
    static = opts.encoder == "direct" and (first_is_conv and len(input_shape) == 3 or first_is_dense)
    if static:
        return input_shape, True
    key = jax.random.PRNGKey(0) if encoders.needs_key(opts.encoder) else None
    encoded = jax.eval_shape(lambda x: encoders.encode(opts.encoder, x, opts.time_steps, key, opts.permutation_seed),
                             jax.ShapeDtypeStruct((1,) + input_shape, jnp.float32))
    return tuple(encoded.shape[2:]), False


class ConvSNN(nnx.Module):
    """A spiking conv/dense network from a spec: ``x [B, ...] -> ModelOutput(out=[T, B, K])``.

    Args:
        layers: a spec string (parsed with ``num_classes``) or parsed layers.
        num_classes: K.
        input_shape: one example's shape, ``(H, W, C)`` or ``(N,)``: NNX creates every weight now,
            so the widths after the encoder, pools and flattening are worked out from it.
        neuron: the neurons of every block.
        opts: the switches (:class:`snnjax.models.conv_net.ConvOptions`): OSSA after the first
            block at t = 0 and local classifiers (``per_conv``, ``code``) included.
        rngs: ``nnx.Rngs`` with a ``params`` stream.
    """

    def __init__(self, layers: str | Sequence[Layer], num_classes: int, input_shape: Sequence[int], *,
                 neuron: NeuronConfig = NeuronConfig(), opts: ConvOptions = ConvOptions(), rngs: nnx.Rngs):
        _check_supported(opts)
        self.layers = parse_spec(layers, num_classes) if isinstance(layers, str) else tuple(layers)
        self.num_classes, self.neuron_config, self.opts = num_classes, neuron, opts
        self.input_shape = tuple(input_shape)
        shape, self.static = _step_shape(self.layers, opts, self.input_shape)
        self.first_is_conv = self.layers[0].kind == "conv"
        spatial = [i for i, l in enumerate(self.layers) if l.kind in SPATIAL]
        split = spatial[-1] + 1 if spatial else 0
        self.trunk, self.head = self.layers[:split], self.layers[split:]
        self.neuron_shapes: dict[str, tuple[int, ...]] = {}  # neuron layer path -> per-example shape but channels
        self.block_names = self._block_names()
        heads: list[str] = []  # the local classifiers' names, in the order they read

        def local_head(name: str, in_shape: tuple[int, ...]) -> None:
            heads.append(name)
            self.neuron_shapes[f"{name}/SpikingNeuron_0"] = ()
            setattr(self, name, LocalClassifier(
                math.prod(in_shape), num_classes, neuron, votes_per_class=opts.votes_per_class,
                dropout=opts.local_dropout, use_bias=opts.dense_bias, rngs=rngs))

        for i, layer in enumerate(self.trunk):
            if layer.kind == "conv":
                name = self.block_names[i]
                setattr(self, name, ConvBlock(shape[-1], layer.size, layer.kernel, neuron, opts,
                                              static=self.static and name == "conv0", rngs=rngs))
                shape = shape[:-1] + (layer.size,)
                self.neuron_shapes[f"{name}/neuron"] = shape[:-1]
                if opts.local_heads == "per_conv" or (opts.local_heads == "code" and name == "conv0"):
                    local_head(f"local{name[len('conv'):]}", shape)  # Linen's: the block's number
                if name == "conv0" and opts.ossa:
                    self.ossa = OSSA(layer.size, _llc_lif(neuron), form=opts.ossa_form,
                                     attn_dropout=opts.ossa_attn_dropout, rngs=rngs)
            elif layer.kind == "pool":
                shape = (shape[0] // layer.size, shape[1] // layer.size, shape[2])
            elif layer.kind == "subsample":
                shape = (math.ceil(shape[0] / layer.size), math.ceil(shape[1] / layer.size), shape[2])
        if self.trunk and opts.local_heads == "code":
            local_head(f"local{len(heads)}", shape)
        self.local_heads = tuple(heads)
        width = math.prod(shape)
        dense_at = [i for i, l in enumerate(self.head) if l.kind == "dense"]
        for n, i in enumerate(dense_at):
            once = self.static and not self.trunk and n == 0
            setattr(self, f"fc{n}", SeqDense(width, self.head[i].size, use_bias=opts.dense_bias, time_major=not once,
                                             rngs=rngs))
            setattr(self, f"fc{n}_neuron", SpikingNeuron(self.head[i].size, neuron, rngs=rngs))
            self.neuron_shapes[f"fc{n}_neuron"] = ()
            width = self.head[i].size

    def _block_names(self) -> dict[int, str]:
        """The Linen names of the trunk's conv blocks: ``conv0`` for a first conv, then ``conv1``, ..."""
        names, n_conv = {}, 0 if self.first_is_conv else 1
        for i, layer in enumerate(self.trunk):
            if layer.kind == "conv":
                names[i] = f"conv{n_conv}"
                n_conv += 1
        return names

    def _neuron_layer(self, path: str) -> SpikingNeuron:
        module = self
        for name in path.split("/"):
            module = getattr(module, name)
        return module

    def initial_state(self, batch: int, dtype: DTypeLike = jnp.float32) -> ConvState:
        """Rest for a batch: ``{neuron layer path: state}`` (the Linen model's ``neuron_state`` entries)."""
        return {path: self._neuron_layer(path).initial_state((batch,) + shape, dtype)
                for path, shape in self.neuron_shapes.items()}

    def __call__(self, x: Array, state: ConvState | None = None, *, train: bool, key: Array | None = None,
                 time_steps: int | None = None) -> tuple[ModelOutput, ConvState]:
        """``x [B, ...]`` batch-major data from ``state`` (None: rest) -> ``(ModelOutput, state)``.

        Args:
            x: the data (``[B, H, W, C]`` or ``[B, N]``).
            state: neuron states to continue from (:meth:`initial_state`, or a previous call's);
                not with OSSA, which treats every call's first step as t = 0.
            train: batch statistics (updating the running ones) and dropout; else running statistics.
            key: PRNG key for the ``rate`` encoder and the dropout masks in training.
            time_steps: overrides ``opts.time_steps`` (direct, rate and latency encoders).
        """
        opts = self.opts if time_steps is None else dataclasses.replace(self.opts, time_steps=int(time_steps))
        if state is not None and opts.ossa:
            raise ValueError("a carried neuron state needs a net without OSSA, which treats the first step of "
                             "every call as t = 0")
        n_keys = 2 + 2 * len(self.layers)
        keys = iter(jax.random.split(key, n_keys) if key is not None else [None] * n_keys)
        enc_key = next(keys)
        h = x if self.static else encoders.encode(opts.encoder, x, opts.time_steps, enc_key, opts.permutation_seed)
        state = dict(state) if state is not None else {}
        new_state: ConvState = {}
        local_outs: list[Array] = []

        def local_head(features: Array) -> None:
            name = self.local_heads[len(local_outs)]
            path = f"{name}/SpikingNeuron_0"
            votes, new_state[path] = getattr(self, name)(features, state.get(path), train=train, key=next(keys))
            local_outs.append(votes)

        for i, layer in enumerate(self.trunk):
            if layer.kind == "conv":
                name = self.block_names[i]
                h, analog, new_state[f"{name}/neuron"] = getattr(self, name)(
                    h, state.get(f"{name}/neuron"), train=train, time_steps=opts.time_steps)
                if opts.local_heads != "none" and (opts.local_heads == "per_conv" or name == "conv0"):
                    local_head(analog if opts.local_heads == "code" else h)
                    h = block_boundary(h, opts.local_detach)
                if name == "conv0" and opts.ossa:  # t = 0 only
                    onset = self.ossa(h[:1], train=train, key=next(keys))
                    h = onset if h.shape[0] == 1 else jnp.concatenate([onset, h[1:]], axis=0)
            elif layer.kind == "pool":
                h = pool(h, layer.pool, layer.size, impl=opts.max_pool_impl if layer.pool == "max" else "xla")
            elif layer.kind == "subsample":
                h = h[:, :, :: layer.size, :: layer.size]
            elif layer.kind == "dropout":
                h = time_consistent_dropout(h, opts.dropout, next(keys), train=train)
        if self.trunk and opts.local_heads == "code":
            local_head(h)
            h = block_boundary(h, opts.local_detach)
        once = self.static and not self.trunk
        h = h.reshape(h.shape[0], -1) if once else h.reshape(h.shape[:2] + (-1,))
        out = self._head(h, state, new_state, opts, keys, train=train, once=once)
        return ModelOutput(out=out, local_outs=tuple(local_outs), readout=opts.readout), new_state

    def _head(self, h: Array, state: ConvState, new_state: ConvState, opts: ConvOptions, keys, *, train: bool,
              once: bool) -> Array:
        """Dense blocks, dropout and voting on ``[T, B, N]`` (``once``: the direct-coded ``[B, N]``)."""
        layers = self.head
        dense_at = [i for i, l in enumerate(layers) if l.kind == "dense"]
        on_current = {i + 1 for i in dense_at
                      if opts.dropout_site == "current" and i + 1 < len(layers) and layers[i + 1].kind == "dropout"}
        n_dense = 0
        for i, layer in enumerate(layers):
            if layer.kind == "dense":
                current = getattr(self, f"fc{n_dense}")(h)
                if once and n_dense == 0:
                    current = encoders.direct(current, opts.time_steps)
                if opts.dense_relu and i != dense_at[-1]:
                    current = jax.nn.relu(current)
                if i + 1 in on_current:
                    current = time_consistent_dropout(current, opts.dropout, next(keys), train=train)
                name = f"fc{n_dense}_neuron"
                h, new_state[name] = getattr(self, name)(current, state.get(name))
                n_dense += 1
            elif layer.kind == "dropout" and i not in on_current:
                h = time_consistent_dropout(h, opts.dropout, next(keys), train=train)
            elif layer.kind == "vote":
                h = vote(h, layer.size)
        return h
