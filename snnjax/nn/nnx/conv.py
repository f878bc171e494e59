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

Every switch is here: OSSA (text and code forms), the local classifiers (``per_conv``, ``code``) and
the released llc-lif code's onset block (``ossa_onset="separate"``: t = 0 through its own trunk
``onset_conv1``, ... with ``onset_ossa``), its first-neuron split (``first_neuron="split"``: the first
block's ``onset_neuron`` at t = 0 and ``neuron`` from rest at t ≥ 1) and its double trunk call
(``trunk_calls=2``: every step's first-conv drive fed twice to the neurons after it).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterator, Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import DTypeLike

from snnjax.core import encoders
from snnjax.nn.layers.local_classifier import block_boundary, flatten_steps
from snnjax.nn.layers.pooling import downsample
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
    """conv → norm → [ReLU] → neurons: ``[T, B, H, W, C] -> [T·calls, B, H, W, F]`` (spikes, and the analog
    pre-activation ``[T, ...]``). ``static=True``: the input is ``[B, H, W, C]`` (direct coding), conv and
    norm run once and are repeated over ``opts.time_steps``. LLC-LIF neurons: the block owns the leak
    ``a`` and, with ``llc_bn_leak="shared"``, scales its LLC-BN by ``sigmoid(a)`` (text).

    As :class:`snnjax.models.conv_net.ConvBlock`: ``calls=2`` feeds every step's pre-activation to the
    neurons twice in a row (the released llc-lif trunk's double call); ``split=True`` gives the first
    ``calls`` entries (t = 0) their own neurons ``onset_neuron`` and the rest (t ≥ 1, from rest) the
    neurons ``neuron``, each with its own leak; ``neuron`` exists only when ``opts.time_steps > 1``.
    """

    def __init__(self, in_features: int, features: int, kernel: int, neuron: NeuronConfig, opts: ConvOptions, *,
                 static: bool = False, calls: int = 1, split: bool = False, rngs: nnx.Rngs):
        self.opts, self.static, self.calls, self.split = opts, static, calls, split
        use_bias = opts.norm == "none" or opts.conv_bias
        self.conv = SeqConv(in_features, features, kernel, use_bias=use_bias, time_major=not static,
                            impl=opts.conv_impl, rngs=rngs)
        a = None
        if neuron.kind == "llc_lif" and not split:
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
        self.onset_neuron = SpikingNeuron(features, neuron, rngs=rngs) if split else None
        has_later = not split or opts.time_steps > 1
        self.neuron = SpikingNeuron(features, neuron, rngs=rngs, own_leak=self.a is None) if has_later else None

    def neuron_names(self) -> tuple[str, ...]:
        """The block's neuron layers, in the order they read the drive."""
        return tuple(name for name in ("onset_neuron", "neuron") if getattr(self, name) is not None)

    def __call__(self, x: Array, state: dict[str, Any] | None = None, *, train: bool,
                 time_steps: int | None = None) -> tuple[Array, Array, dict[str, Any]]:
        """Returns ``(spikes [T·calls, B, ...], analog pre-activation [T, B, ...], {neuron name: state})``;
        ``time_steps``: T of a static block's call (default ``opts.time_steps``)."""
        time_steps = self.opts.time_steps if time_steps is None else time_steps
        state = state or {}
        y = self.conv(x)
        a = None if self.a is None else self.a[...]
        if self.norm is not None:
            repeats = time_steps if self.static_updates_every_step else 1
            y = self.norm(y, train=train, leak=jax.nn.sigmoid(a) if self.shared_leak else None, repeats=repeats)
        if self.opts.relu_before_neuron:
            y = jax.nn.relu(y)
        if self.static:
            y = encoders.direct(y, time_steps)
        drive = repeat_calls(y, self.calls)
        new_state: dict[str, Any] = {}
        if not self.split:
            s, new_state["neuron"] = self.neuron(drive, state.get("neuron"), a=a)
            return s, y, new_state
        s, new_state["onset_neuron"] = self.onset_neuron(drive[: self.calls], state.get("onset_neuron"))
        if drive.shape[0] > self.calls:
            if self.neuron is None:
                raise ValueError("this block was built for time_steps=1 (no neurons for t >= 1): build the model "
                                 "with the time_steps it is called with")
            later, new_state["neuron"] = self.neuron(drive[self.calls :], state.get("neuron"))
            s = jnp.concatenate([s, later], axis=0)
        return s, y, new_state


def repeat_calls(y: Array, calls: int) -> Array:
    """``[T, ...] -> [T·calls, ...]``, every step ``calls`` times in a row (``jnp.repeat(y, calls, 0)``,
    with the cheap gradient of :func:`snnjax.core.encoders.repeat`)."""
    return encoders.repeat(y, calls, axis=1).reshape((-1, *y.shape[1:])) if calls > 1 else y


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


@dataclasses.dataclass
class _Run:
    """One call's bookkeeping: the neuron states in and out, the local heads' votes, the keys."""

    state: ConvState
    new_state: ConvState
    local_outs: list[Array]
    keys: Iterator[Array | None]
    opts: ConvOptions
    train: bool


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
        self.layers = parse_spec(layers, num_classes) if isinstance(layers, str) else tuple(layers)
        self.num_classes, self.neuron_config, self.opts = num_classes, neuron, opts
        self.input_shape = tuple(input_shape)
        shape, self.static = _step_shape(self.layers, opts, self.input_shape)
        self.first_is_conv = self.layers[0].kind == "conv"
        spatial = [i for i, l in enumerate(self.layers) if l.kind in SPATIAL]
        split = spatial[-1] + 1 if spatial else 0
        self.trunk, self.head = self.layers[:split], self.layers[split:]
        self.neuron_shapes: dict[str, tuple[int, ...]] = {}  # neuron layer path -> per-example shape but channels
        if self.trunk and self.first_is_conv:
            first = self.trunk[0]
            self._conv_block("conv0", shape, first, rngs, static=self.static, calls=opts.trunk_calls,
                             split=opts.first_neuron == "split")
            shape = shape[:-1] + (first.size,)
            if opts.local_heads != "none":
                self._local_head("local0", shape, rngs)
            rest = self.trunk[1:]
            if opts.ossa and opts.ossa_onset == "separate":
                if opts.time_steps > 1:  # Linen creates the t ≥ 1 trunk only when there is a t ≥ 1
                    self._build_trunk(rest, shape, "", rngs, ossa=False, heads=False)
                shape = self._build_trunk(rest, shape, "onset_", rngs, ossa=True, heads=False)  # the same widths
            else:
                shape = self._build_trunk(rest, shape, "", rngs, ossa=opts.ossa, heads=True)
        elif self.trunk:
            shape = self._build_trunk(self.trunk, shape, "", rngs, ossa=False, heads=True)
        if self.trunk and opts.local_heads == "code":
            self._local_head(f"local{int(self.first_is_conv)}", shape, rngs)
        width = math.prod(shape)
        dense_at = [i for i, l in enumerate(self.head) if l.kind == "dense"]
        for n, i in enumerate(dense_at):
            once = self.static and not self.trunk and n == 0
            setattr(self, f"fc{n}", SeqDense(width, self.head[i].size, use_bias=opts.dense_bias, time_major=not once,
                                             rngs=rngs))
            setattr(self, f"fc{n}_neuron", SpikingNeuron(self.head[i].size, neuron, rngs=rngs))
            self.neuron_shapes[f"fc{n}_neuron"] = ()
            width = self.head[i].size

    def _conv_block(self, name: str, in_shape: tuple[int, ...], layer: Layer, rngs: nnx.Rngs, **kwargs) -> None:
        """Creates the conv block ``name`` on one step's ``in_shape`` ("same" padding keeps H and W)."""
        block = ConvBlock(in_shape[-1], layer.size, layer.kernel, self.neuron_config, self.opts, rngs=rngs, **kwargs)
        setattr(self, name, block)
        for neuron_name in block.neuron_names():
            self.neuron_shapes[f"{name}/{neuron_name}"] = in_shape[:-1]

    def _local_head(self, name: str, in_shape: tuple[int, ...], rngs: nnx.Rngs) -> None:
        self.neuron_shapes[f"{name}/SpikingNeuron_0"] = ()
        setattr(self, name, LocalClassifier(
            math.prod(in_shape), self.num_classes, self.neuron_config, votes_per_class=self.opts.votes_per_class,
            dropout=self.opts.local_dropout, use_bias=self.opts.dense_bias, rngs=rngs))

    def _build_trunk(self, layers: Sequence[Layer], shape: tuple[int, ...], prefix: str, rngs: nnx.Rngs, *,
                     ossa: bool, heads: bool) -> tuple[int, ...]:
        """Creates the modules of :meth:`_trunk` (Linen's names: ``{prefix}conv1``, ...); returns the
        per-example shape after them."""
        if ossa:
            setattr(self, f"{prefix}ossa", OSSA(shape[-1], _llc_lif(self.neuron_config), form=self.opts.ossa_form,
                                                attn_dropout=self.opts.ossa_attn_dropout, rngs=rngs))
        n_conv = 1
        for layer in layers:
            if layer.kind == "conv":
                self._conv_block(f"{prefix}conv{n_conv}", shape, layer, rngs)
                shape = shape[:-1] + (layer.size,)
                if heads and self.opts.local_heads == "per_conv":
                    self._local_head(f"local{n_conv}", shape, rngs)
                n_conv += 1
            elif layer.kind == "pool":
                shape = (shape[0] // layer.size, shape[1] // layer.size, shape[2])
            elif layer.kind == "subsample":
                shape = (math.ceil(shape[0] / layer.size), math.ceil(shape[1] / layer.size), shape[2])
        return shape

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
        n_keys = 3 + 3 * len(self.layers)
        keys = iter(jax.random.split(key, n_keys) if key is not None else [None] * n_keys)
        enc_key = next(keys)
        h = x if self.static else encoders.encode(opts.encoder, x, opts.time_steps, enc_key, opts.permutation_seed)
        run = _Run(dict(state) if state is not None else {}, {}, [], keys, opts, train)
        calls = opts.trunk_calls
        if self.trunk and self.first_is_conv:
            h, analog = self._block(run, "conv0", h)
            if opts.local_heads != "none":
                self._local(run, "local0", analog if opts.local_heads == "code" else h)
                h = block_boundary(h, opts.local_detach)
            rest = self.trunk[1:]
            if opts.ossa and opts.ossa_onset == "separate":
                onset = self._trunk(run, rest, h[:calls], "onset_", ossa_calls=calls, heads=False)
                if opts.time_steps > 1:
                    later = self._trunk(run, rest, h[calls:], "", ossa_calls=0, heads=False)
                    onset = jnp.concatenate([onset, later], axis=0)
                h = onset
            else:
                h = self._trunk(run, rest, h, "", ossa_calls=calls if opts.ossa else 0, heads=True)
        elif self.trunk:
            h = self._trunk(run, self.trunk, h, "", ossa_calls=0, heads=True)
        # trunk_calls=2: two calls per step; the head reads the first, the second local head the second
        h_local, h = (h[calls - 1 :: calls], h[::calls]) if calls > 1 else (h, h)
        if self.trunk and opts.local_heads == "code":
            self._local(run, f"local{int(self.first_is_conv)}", h_local)
            h = block_boundary(h, opts.local_detach)
        once = self.static and not self.trunk
        h = h.reshape(h.shape[0], -1) if once else flatten_steps(h)
        out = self._head(h, run.state, run.new_state, opts, keys, train=train, once=once)
        return ModelOutput(out=out, local_outs=tuple(run.local_outs), readout=opts.readout), run.new_state

    def _block(self, run: _Run, name: str, h: Array) -> tuple[Array, Array]:
        """Runs the conv block ``name`` from its neurons' states in ``run``; returns (spikes, analog)."""
        block = getattr(self, name)
        given = {n: run.state.get(f"{name}/{n}") for n in block.neuron_names()}
        s, analog, states = block(h, given, train=run.train, time_steps=run.opts.time_steps)
        run.new_state.update({f"{name}/{n}": st for n, st in states.items()})
        return s, analog

    def _local(self, run: _Run, name: str, features: Array) -> None:
        """Runs the local classifier ``name`` on ``features`` and keeps its votes."""
        path = f"{name}/SpikingNeuron_0"
        votes, run.new_state[path] = getattr(self, name)(features, run.state.get(path), train=run.train,
                                                         key=next(run.keys))
        run.local_outs.append(votes)

    def _trunk(self, run: _Run, layers: Sequence[Layer], h: Array, prefix: str, *, ossa_calls: int,
               heads: bool) -> Array:
        """The conv stage after the first block (Linen's ``_trunk``): OSSA on the first ``ossa_calls``
        entries of ``h`` (the calls at t = 0; 0 = no OSSA), conv blocks, pools, subsampling, dropout."""
        opts = run.opts
        if ossa_calls:
            onset = getattr(self, f"{prefix}ossa")(h[:ossa_calls], train=run.train, key=next(run.keys))
            h = onset if h.shape[0] == ossa_calls else jnp.concatenate([onset, h[ossa_calls:]], axis=0)
        n_conv = 1
        for layer in layers:
            if layer.kind == "conv":
                h, _ = self._block(run, f"{prefix}conv{n_conv}", h)
                if heads and opts.local_heads == "per_conv":
                    self._local(run, f"local{n_conv}", h)
                    h = block_boundary(h, opts.local_detach)
                n_conv += 1
            elif layer.kind in ("pool", "subsample"):
                h = downsample(h, layer.kind, layer.size, layer.pool, opts.max_pool_impl)
            elif layer.kind == "dropout":
                h = time_consistent_dropout(h, opts.dropout, next(run.keys), train=run.train)
        return h

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
