"""Spiking conv/dense networks from spec strings: the llc-lif and bpsa-bpta papers' nets.

``ConvSNN`` reads a spec (:mod:`snnjax.models.spec`) and the switches of ``config.model``, and runs
every layer in layer-wise form (one conv/matmul over the merged ``T·B`` batch, then the neurons over
time). The switches cover the papers' ablations:

- ``neuron``: the neurons of every block (LIF, LLC-LIF, ALIF; surrogate, BPSA, BPTA, ...).
- ``norm``: ``llc_bn`` (llc-lif §3.3), ``bn`` or ``none`` after each convolution;
  ``llc_bn_leak="shared"`` scales LLC-BN by the leak of the block's LLC-LIF neurons (text),
  ``"own"`` by its own ``sigmoid(w)`` (released code).
- ``relu_before_neuron``: Conv → BN → ReLU → neuron (bpsa-bpta's blocks).
- ``ossa``, ``ossa_form``, ``ossa_onset``: OSSA after the first conv block at t = 0 (llc-lif §3.2);
  ``ossa_onset="separate"`` gives step 0 its own conv trunk (the released code's onset block).
- ``local_heads``: ``none``; ``per_conv`` (one auxiliary classifier after every conv block, text);
  ``code`` (two heads: on the first conv's analog output and on the last conv features).
  ``local_detach`` stops gradients where a local head reads (true local learning).
- Under ``encoder="direct"`` the first conv (and its norm) sees the same input at every step, so it
  is computed once on ``[B, ...]`` and broadcast over time (the released code's "static conv").
  A first dense layer likewise: its current is computed once on ``[B, N]`` and repeated over time
  (the same values as T matmuls; its weight gradient sums over time first, so it rounds differently).

Switches that reproduce the authors' released networks (``configs/*_code.py``; docs/papers.md lists
each text/code difference with its key). Every default is the paper text's behaviour:

- ``trunk_calls=2`` (llc-lif code, a quirk): everything after the first conv's norm runs twice per
  step, once for the classifier head and once for the second ``code`` local head, so its neurons
  and norms advance two updates per step. The head reads the first call, the local head the second.
- ``first_neuron="split"`` (llc-lif code): the first conv's neurons are two layers, one for t = 0
  (in the onset block) and one for t ≥ 1 starting from rest at t = 1, each with its own leak.
- ``dense_bias=False`` (llc-lif code): no bias in the head's and the local heads' linear layers.
- ``norm_stats="per_step"`` (both codes): in training each step is normalised with its own batch
  statistics and updates the running statistics (text: statistics pooled over T).
  ``static_norm_updates="per_step"`` (BP-STA code) counts the static first conv's statistics once
  per step in the running statistics, as a network that recomputes that conv at every step.
- ``dense_relu=True`` (BP-STA code): Linear → ReLU → neurons in hidden dense layers (not the output).
- ``dropout_site="current"`` (BP-STA code): a ``dp`` right after a dense layer acts on that layer's
  analog current before its neurons (one mask for all steps) instead of on its spikes.
- ``conv_bias=True`` (BP-STA code): convolutions keep their bias under a norm.
- ``max_pool_impl``: ``"auto"`` (default: ``"argmax"`` on CPU, ``"xla"`` elsewhere), ``"xla"``
  (``nn.max_pool``) or ``"argmax"`` (the same values and gradients, with a hand-written backward
  pass; see :mod:`snnjax.layers.pooling`). Not a paper switch: speed only.
- ``conv_impl``: ``"auto"`` (default: ``"canonical"`` on CPU, ``"xla"`` elsewhere), ``"xla"`` or
  ``"canonical"`` (the same values and gradients; see :mod:`snnjax.layers.conv`). Speed only.
- ``pool`` and the spec (average pooling, a dropout before the first dense layer) and
  ``neuron.surrogate="bpsa_code"`` (the released BP-STA spike value) are the remaining switches.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.core import encoders
from snnjax.nn.layers.conv import CONV_IMPLS
from snnjax.nn.layers.dropout import TimeConsistentDropout
from snnjax.nn.layers.llc_batch_norm import LLCBatchNorm
from snnjax.nn.layers.local_classifier import LocalClassifier, block_boundary
from snnjax.nn.layers.ossa import OSSA
from snnjax.nn.layers.pooling import MAX_POOL_IMPLS, pool
from snnjax.nn.layers.spiking import NeuronConfig, SpikingNeuron, carries_state, leak_parameter
from snnjax.nn.layers.synapse import SeqConv, SeqDense
from snnjax.core.voting import vote
from snnjax.core.output import ModelOutput
from snnjax.nn.models.spec import SPATIAL, Layer

Array = jax.Array

NORMS = ("llc_bn", "bn", "none")
LOCAL_HEADS = ("none", "per_conv", "code")
NORM_STATS = ("pooled", "per_step")
DROPOUT_SITES = ("spikes", "current")


@dataclasses.dataclass(frozen=True)
class ConvOptions:
    """The switches of a ``ConvSNN`` (see the module docstring)."""

    time_steps: int = 8
    encoder: str = "direct"
    norm: str = "bn"
    llc_bn_alpha: float = 3.2
    llc_bn_leak: str = "shared"
    relu_before_neuron: bool = False
    dropout: float = 0.5
    ossa: bool = False
    ossa_form: str = "text"
    ossa_onset: str = "shared"
    ossa_attn_dropout: float = 0.0
    local_heads: str = "none"
    local_detach: bool = False
    local_dropout: float = 0.5
    votes_per_class: int = 10
    readout: str = "mean"
    permutation_seed: int = 0
    trunk_calls: int = 1
    first_neuron: str = "shared"
    dense_bias: bool = True
    norm_stats: str = "pooled"
    static_norm_updates: str = "once"
    dense_relu: bool = False
    dropout_site: str = "spikes"
    conv_bias: bool = False
    max_pool_impl: str = "auto"
    conv_impl: str = "auto"

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"model.norm must be one of {NORMS}, got {self.norm!r}")
        if self.llc_bn_leak not in ("shared", "own"):
            raise ValueError(f"model.llc_bn_leak must be 'shared' or 'own', got {self.llc_bn_leak!r}")
        if self.local_heads not in LOCAL_HEADS:
            raise ValueError(f"model.local_heads must be one of {LOCAL_HEADS}, got {self.local_heads!r}")
        if self.ossa_onset not in ("shared", "separate"):
            raise ValueError(f"model.ossa_onset must be 'shared' or 'separate', got {self.ossa_onset!r}")
        if self.encoder not in encoders.ENCODERS:
            raise ValueError(f"model.encoder must be one of {encoders.ENCODERS}, got {self.encoder!r}")
        if self.ossa and self.ossa_onset == "separate" and self.local_heads == "per_conv":
            raise ValueError("model.local_heads='per_conv' is not defined with model.ossa_onset='separate'; "
                             "use local_heads='code' (the released code's two heads)")
        if self.time_steps < 1:
            raise ValueError(f"model.time_steps must be >= 1, got {self.time_steps}")
        if self.norm_stats not in NORM_STATS:
            raise ValueError(f"model.norm_stats must be one of {NORM_STATS}, got {self.norm_stats!r}")
        if self.static_norm_updates not in ("once", "per_step"):
            raise ValueError(
                f"model.static_norm_updates must be 'once' or 'per_step', got {self.static_norm_updates!r}"
            )
        if self.dropout_site not in DROPOUT_SITES:
            raise ValueError(f"model.dropout_site must be one of {DROPOUT_SITES}, got {self.dropout_site!r}")
        if self.max_pool_impl not in MAX_POOL_IMPLS:
            raise ValueError(f"model.max_pool_impl must be one of {MAX_POOL_IMPLS}, got {self.max_pool_impl!r}")
        if self.conv_impl not in CONV_IMPLS:
            raise ValueError(f"model.conv_impl must be one of {CONV_IMPLS}, got {self.conv_impl!r}")
        if self.trunk_calls not in (1, 2):
            raise ValueError(f"model.trunk_calls must be 1 or 2, got {self.trunk_calls}")
        if self.trunk_calls == 2 and self.local_heads != "code":
            raise ValueError(
                "model.trunk_calls=2 runs the trunk a second time for the released code's second local head; "
                "it needs local_heads='code' (or set trunk_calls=1)"
            )
        if self.first_neuron not in ("shared", "split"):
            raise ValueError(f"model.first_neuron must be 'shared' or 'split', got {self.first_neuron!r}")
        if self.first_neuron == "split" and not (self.ossa and self.ossa_onset == "separate"):
            raise ValueError(
                "model.first_neuron='split' gives the onset block (t = 0) its own first neurons; "
                "it needs ossa=True and ossa_onset='separate'"
            )
        if self.first_neuron == "split" and self.norm == "llc_bn" and self.llc_bn_leak == "shared":
            raise ValueError(
                "model.first_neuron='split' makes two first neuron layers with two leaks, and LLC-BN can share "
                "only one: set llc_bn_leak='own' (the released code) or first_neuron='shared'"
            )


class ConvBlock(nn.Module):
    """conv → norm → [ReLU] → neurons, ``[T, B, H, W, C] -> [T·calls, B, H, W, F]``.

    With ``static=True`` the input is ``[B, H, W, C]`` (direct coding): conv and norm run once and
    their output is broadcast over ``time_steps`` before the neurons. With ``calls=2`` every step's
    pre-activation is fed to the neurons twice in a row (the released llc-lif trunk's double call);
    with ``split=True`` the first ``calls`` entries (t = 0) go to their own neurons ``onset_neuron``
    and the rest (t ≥ 1) to ``neuron``, which starts from rest. Returns the spikes and the analog
    pre-activation ``[T, B, ...]`` (which the released code's first local head reads).
    """

    features: int
    kernel: int
    neuron: NeuronConfig
    opts: ConvOptions
    static: bool = False
    calls: int = 1
    split: bool = False

    @nn.compact
    def __call__(self, x: Array, *, train: bool) -> tuple[Array, Array]:
        opts = self.opts
        use_bias = opts.norm == "none" or opts.conv_bias
        y = SeqConv(
            self.features, self.kernel, use_bias=use_bias, analog_input=self.static, time_major=not self.static,
            impl=opts.conv_impl, name="conv"
        )(x)
        a = None
        if self.neuron.kind == "llc_lif" and not self.split:
            a = leak_parameter(self, self.neuron, self.features)
        per_step_stats = opts.norm_stats == "per_step"
        per_step = per_step_stats and not self.static  # a static conv is one call (llc-lif code)...
        every_step = self.static and per_step_stats and opts.static_norm_updates == "per_step"
        repeats = opts.time_steps if every_step else 1  # ...or stands for T of them (BP-STA code)
        if opts.norm == "bn":  # statistics per channel over (T, B, H, W), or per step
            y = LLCBatchNorm(alpha=1.0, own_leak=False, per_step=per_step, repeats=repeats, name="norm")(y, train=train)
        elif opts.norm == "llc_bn":
            shared = opts.llc_bn_leak == "shared" and a is not None
            norm = LLCBatchNorm(alpha=opts.llc_bn_alpha, own_leak=True, per_step=per_step, repeats=repeats, name="norm")
            y = norm(y, train=train, leak=jax.nn.sigmoid(a) if shared else None)
        if opts.relu_before_neuron:
            y = jax.nn.relu(y)
        if self.static:
            y = encoders.direct(y, opts.time_steps)
        # jnp.repeat(y, calls, axis=0): each step `calls` times in a row, with a cheap gradient
        drive = encoders.repeat(y, self.calls, axis=1).reshape((-1, *y.shape[1:])) if self.calls > 1 else y
        if self.split:
            onset = SpikingNeuron(self.neuron, name="onset_neuron")(drive[: self.calls])
            later = [SpikingNeuron(self.neuron, name="neuron")(drive[self.calls :])] if drive.shape[0] > self.calls else []
            s = jnp.concatenate([onset, *later], axis=0)
        else:
            s = SpikingNeuron(self.neuron, name="neuron")(drive, a=a)
        return s, y


class ConvSNN(nn.Module):
    """A spiking network from a parsed spec (``snnjax.models.spec.parse_spec``).

    ``__call__(x, train)`` takes batch-major data ``x: [B, ...]`` and returns a ``ModelOutput`` with
    ``out: [T, B, K]``; ``time_steps`` overrides ``opts.time_steps`` for the encoders that take it
    (``direct``, ``rate``, ``latency``).

    State in and out (streaming, chunked inference, truncated BPTT): every neuron layer carries its
    state in the ``neuron_state`` collection (:data:`snnjax.layers.spiking.CARRIED_STATE`), so a call
    can continue where the last one stopped, as SpikingJelly's single-step mode or snnTorch's
    ``Leaky(x, mem)`` do::

        out1, st = model.apply(variables, x, train=False, time_steps=3, mutable=["neuron_state"])
        out2, st = model.apply({**variables, **st}, x, train=False, time_steps=5, mutable=["neuron_state"])
        # concatenate([out1.out, out2.out]) == model.apply(variables, x, train=False).out  (T = 8)

    In eval mode the chunks equal one call to float rounding (tested within 1e-6); in train mode
    BatchNorm's statistics are those of each chunk. OSSA (and ``first_neuron="split"``, which needs it) treats the first step of a call as
    t = 0, so it refuses a carried state.
    """

    layers: tuple[Layer, ...]
    num_classes: int
    neuron: NeuronConfig = NeuronConfig()
    opts: ConvOptions = ConvOptions()

    @nn.compact
    def __call__(self, x: Array, *, train: bool, time_steps: int | None = None) -> ModelOutput:
        opts = self.opts if time_steps is None else dataclasses.replace(self.opts, time_steps=int(time_steps))
        if carries_state(self) and opts.ossa:
            raise ValueError("a carried neuron_state needs a net without an onset block: OSSA (and "
                             "first_neuron='split' with it) treats the first step of every call as t = 0")
        key = self.make_rng("encoder") if opts.encoder == "rate" else None
        first_is_conv = self.layers[0].kind == "conv"
        first_is_dense = self.layers[0].kind == "dense" and not any(l.kind in SPATIAL for l in self.layers)
        static = opts.encoder == "direct" and (first_is_conv and x.ndim == 4 or first_is_dense)
        h = x if static else encoders.encode(opts.encoder, x, opts.time_steps, key, opts.permutation_seed)

        spatial = [i for i, l in enumerate(self.layers) if l.kind in SPATIAL]
        split = spatial[-1] + 1 if spatial else 0
        trunk, head = self.layers[:split], self.layers[split:]

        local_outs: list[Array] = []
        calls = opts.trunk_calls
        if trunk and first_is_conv:
            first = trunk[0]
            h, analog = ConvBlock(
                first.size, first.kernel, self.neuron, opts, static=static, calls=calls,
                split=opts.first_neuron == "split", name="conv0",
            )(h, train=train)
            if opts.local_heads == "code":
                local_outs.append(self._local_head("local0", analog, train, analog_input=True))
            if opts.local_heads == "per_conv":
                local_outs.append(self._local_head("local0", h, train))
            if opts.local_heads != "none":
                h = block_boundary(h, opts.local_detach)
            rest = trunk[1:]
            if opts.ossa and opts.ossa_onset == "separate":
                onset = self._trunk(rest, h[:calls], train, "onset_", ossa_calls=calls, local_outs=None)
                later = self._trunk(rest, h[calls:], train, "", ossa_calls=0, local_outs=None) if opts.time_steps > 1 else None
                h = onset if later is None else jnp.concatenate([onset, later], axis=0)
            else:
                h = self._trunk(rest, h, train, "", ossa_calls=calls if opts.ossa else 0, local_outs=local_outs)
        elif trunk:
            h = self._trunk(trunk, h, train, "", ossa_calls=0, local_outs=local_outs)

        # Under trunk_calls=2 the trunk output holds two calls per step: the head reads the first,
        # the second local head the second (the released code's order).
        h_local = h[calls - 1 :: calls] if calls > 1 else h
        h = h[::calls] if calls > 1 else h
        if trunk and opts.local_heads == "code":
            local_outs.append(self._local_head(f"local{len(local_outs)}", h_local, train))
            h = block_boundary(h, opts.local_detach)

        if static and first_is_dense:
            out = self._head(head, h.reshape(h.shape[0], -1), train, analog_input=True, static=True)
        else:
            h = h.reshape(h.shape[:2] + (-1,))
            out = self._head(head, h, train, analog_input=not trunk and opts.encoder == "direct")
        return ModelOutput(out=out, local_outs=tuple(local_outs), readout=opts.readout)

    def _trunk(self, layers, h, train, prefix, *, ossa_calls, local_outs):
        """The conv stage after the first block: conv blocks, pools, dropout; OSSA on the first
        ``ossa_calls`` entries of ``h`` (the calls at t = 0; 0 = no OSSA)."""
        opts = self.opts
        if ossa_calls:
            ossa = OSSA(
                self.neuron.with_kind("llc_lif"),
                form=opts.ossa_form,
                attn_dropout=opts.ossa_attn_dropout,
                name=f"{prefix}ossa",
            )
            onset = ossa(h[:ossa_calls], train=train)
            h = onset if h.shape[0] == ossa_calls else jnp.concatenate([onset, h[ossa_calls:]], axis=0)
        n_conv = 1
        for layer in layers:
            if layer.kind == "conv":
                h, _ = ConvBlock(layer.size, layer.kernel, self.neuron, opts, name=f"{prefix}conv{n_conv}")(h, train=train)
                if local_outs is not None and opts.local_heads == "per_conv":
                    local_outs.append(self._local_head(f"local{n_conv}", h, train))
                    h = block_boundary(h, opts.local_detach)
                n_conv += 1
            elif layer.kind == "pool":
                h = pool(h, layer.pool, layer.size, impl=opts.max_pool_impl if layer.pool == "max" else "xla")
            elif layer.kind == "subsample":
                h = h[:, :, :: layer.size, :: layer.size]
            elif layer.kind == "dropout":
                h = TimeConsistentDropout(opts.dropout)(h, train=train)
        return h

    def _head(self, layers, h, train, analog_input, static=False):
        """Dense blocks, dropout and voting on flattened ``[T, B, N]`` features.

        ``static=True``: ``h`` is the direct-coded input ``[B, N]``, the same at every step; the first
        dense layer runs once on it and its current is repeated over ``time_steps``.

        ``dense_relu``: ReLU on the current of every dense layer but the last (the output layer).
        ``dropout_site="current"``: a dropout right after a dense layer acts on its current.
        """
        opts = self.opts
        dense_at = [i for i, l in enumerate(layers) if l.kind == "dense"]
        on_current = {
            i + 1 for i in dense_at if opts.dropout_site == "current" and i + 1 < len(layers) and layers[i + 1].kind == "dropout"
        }
        n_dense = 0
        for i, layer in enumerate(layers):
            if layer.kind == "dense":
                once = static and n_dense == 0
                current = SeqDense(
                    layer.size, use_bias=opts.dense_bias, analog_input=analog_input and n_dense == 0,
                    time_major=not once, name=f"fc{n_dense}",
                )(h)
                if once:
                    current = encoders.direct(current, opts.time_steps)
                if opts.dense_relu and i != dense_at[-1]:
                    current = jax.nn.relu(current)
                if i + 1 in on_current:
                    current = TimeConsistentDropout(opts.dropout)(current, train=train)
                h = SpikingNeuron(self.neuron, name=f"fc{n_dense}_neuron")(current)
                n_dense += 1
            elif layer.kind == "dropout" and i not in on_current:
                h = TimeConsistentDropout(opts.dropout)(h, train=train)
            elif layer.kind == "vote":
                h = vote(h, layer.size)
        return h

    def _local_head(self, name, h, train, analog_input=False):
        return LocalClassifier(
            self.num_classes,
            self.neuron,
            votes_per_class=self.opts.votes_per_class,
            dropout=self.opts.local_dropout,
            analog_input=analog_input,
            use_bias=self.opts.dense_bias,
            name=name,
        )(h, train=train)
