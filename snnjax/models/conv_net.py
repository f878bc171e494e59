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
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.layers import encoders
from snnjax.layers.dropout import TimeConsistentDropout
from snnjax.layers.llc_batch_norm import LLCBatchNorm
from snnjax.layers.local_classifier import LocalClassifier, block_boundary
from snnjax.layers.ossa import OSSA
from snnjax.layers.pooling import pool
from snnjax.layers.spiking import NeuronConfig, SpikingNeuron, leak_parameter
from snnjax.layers.synapse import SeqConv, SeqDense
from snnjax.layers.voting import vote
from snnjax.models.output import ModelOutput
from snnjax.models.spec import Layer

Array = jax.Array

NORMS = ("llc_bn", "bn", "none")
LOCAL_HEADS = ("none", "per_conv", "code")


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


class ConvBlock(nn.Module):
    """conv → norm → [ReLU] → neurons, ``[T, B, H, W, C] -> [T, B, H, W, F]``.

    With ``static=True`` the input is ``[B, H, W, C]`` (direct coding): conv and norm run once and
    their output is broadcast over ``time_steps`` before the neurons. Returns the spikes and the
    analog pre-activation (which the released code's first local head reads).
    """

    features: int
    kernel: int
    neuron: NeuronConfig
    opts: ConvOptions
    static: bool = False

    @nn.compact
    def __call__(self, x: Array, *, train: bool) -> tuple[Array, Array]:
        opts = self.opts
        y = SeqConv(
            self.features, self.kernel, use_bias=opts.norm == "none", analog_input=self.static, time_major=not self.static, name="conv"
        )(x)
        a = None
        if self.neuron.kind == "llc_lif":
            a = leak_parameter(self, self.neuron, self.features)
        if opts.norm == "bn":  # statistics per channel over (T, B, H, W)
            y = LLCBatchNorm(alpha=1.0, own_leak=False, name="norm")(y, train=train)
        elif opts.norm == "llc_bn":
            shared = opts.llc_bn_leak == "shared" and a is not None
            norm = LLCBatchNorm(alpha=opts.llc_bn_alpha, own_leak=True, name="norm")
            y = norm(y, train=train, leak=jax.nn.sigmoid(a) if shared else None)
        if opts.relu_before_neuron:
            y = jax.nn.relu(y)
        if self.static:
            y = encoders.direct(y, opts.time_steps)
        s = SpikingNeuron(self.neuron, name="neuron")(y, a=a)
        return s, y


class ConvSNN(nn.Module):
    """A spiking network from a parsed spec (``snnjax.models.spec.parse_spec``).

    ``__call__(x, train)`` takes batch-major data ``x: [B, ...]`` and returns a ``ModelOutput`` with
    ``out: [T, B, K]``.
    """

    layers: tuple[Layer, ...]
    num_classes: int
    neuron: NeuronConfig = NeuronConfig()
    opts: ConvOptions = ConvOptions()

    @nn.compact
    def __call__(self, x: Array, *, train: bool) -> ModelOutput:
        opts = self.opts
        key = self.make_rng("encoder") if opts.encoder == "rate" else None
        first_is_conv = self.layers[0].kind == "conv"
        static = opts.encoder == "direct" and first_is_conv and x.ndim == 4
        h = x if static else encoders.encode(opts.encoder, x, opts.time_steps, key, opts.permutation_seed)

        spatial = [i for i, l in enumerate(self.layers) if l.kind in ("conv", "pool")]
        split = spatial[-1] + 1 if spatial else 0
        trunk, head = self.layers[:split], self.layers[split:]

        local_outs: list[Array] = []
        if trunk and first_is_conv:
            first = trunk[0]
            h, analog = ConvBlock(first.size, first.kernel, self.neuron, opts, static=static, name="conv0")(h, train=train)
            if opts.local_heads == "code":
                local_outs.append(self._local_head("local0", analog, train, analog_input=True))
            if opts.local_heads == "per_conv":
                local_outs.append(self._local_head("local0", h, train))
            if opts.local_heads != "none":
                h = block_boundary(h, opts.local_detach)
            rest = trunk[1:]
            if opts.ossa and opts.ossa_onset == "separate":
                onset = self._trunk(rest, h[:1], train, "onset_", with_ossa=True, local_outs=None)
                later = self._trunk(rest, h[1:], train, "", with_ossa=False, local_outs=None) if opts.time_steps > 1 else None
                h = onset if later is None else jnp.concatenate([onset, later], axis=0)
            else:
                h = self._trunk(rest, h, train, "", with_ossa=opts.ossa, local_outs=local_outs)
        elif trunk:
            h = self._trunk(trunk, h, train, "", with_ossa=False, local_outs=local_outs)

        if trunk and opts.local_heads == "code":
            local_outs.append(self._local_head(f"local{len(local_outs)}", h, train))
            h = block_boundary(h, opts.local_detach)

        h = h.reshape(h.shape[:2] + (-1,))
        out = self._head(head, h, train, analog_input=not trunk and opts.encoder == "direct")
        return ModelOutput(out=out, local_outs=tuple(local_outs), readout=opts.readout)

    def _trunk(self, layers, h, train, prefix, *, with_ossa, local_outs):
        """The conv stage after the first block: conv blocks, pools, dropout; OSSA after block 0."""
        opts = self.opts
        if with_ossa:
            ossa = OSSA(
                self.neuron.replace(kind="llc_lif"),
                form=opts.ossa_form,
                attn_dropout=opts.ossa_attn_dropout,
                name=f"{prefix}ossa",
            )
            h = h.at[0].set(ossa(h[0], train=train))
        n_conv = 1
        for layer in layers:
            if layer.kind == "conv":
                h, _ = ConvBlock(layer.size, layer.kernel, self.neuron, opts, name=f"{prefix}conv{n_conv}")(h, train=train)
                if local_outs is not None and opts.local_heads == "per_conv":
                    local_outs.append(self._local_head(f"local{n_conv}", h, train))
                    h = block_boundary(h, opts.local_detach)
                n_conv += 1
            elif layer.kind == "pool":
                h = pool(h, layer.pool, layer.size)
            elif layer.kind == "dropout":
                h = TimeConsistentDropout(opts.dropout)(h, train=train)
        return h

    def _head(self, layers, h, train, analog_input):
        """Dense blocks, dropout and voting on flattened ``[T, B, N]`` features."""
        n_dense = 0
        for layer in layers:
            if layer.kind == "dense":
                current = SeqDense(layer.size, analog_input=analog_input and n_dense == 0, name=f"fc{n_dense}")(h)
                h = SpikingNeuron(self.neuron, name=f"fc{n_dense}_neuron")(current)
                n_dense += 1
            elif layer.kind == "dropout":
                h = TimeConsistentDropout(self.opts.dropout)(h, train=train)
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
            name=name,
        )(h, train=train)
