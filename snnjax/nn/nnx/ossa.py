"""OSSA, onset spiking self-attention at the first time step (llc-lif paper §3.2), as an NNX module."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from snnjax.core.precision import at_least_float32
from snnjax.nn.layers.ossa import attend, onset_output, positions, qk_width
from snnjax.nn.layers.spiking import NeuronConfig
from snnjax.nn.nnx.dropout import keyed_dropout
from snnjax.nn.nnx.neuron import SpikingNeuron
from snnjax.nn.nnx.synapse import SeqDense

Array = jax.Array


class OSSA(nnx.Module):
    """Onset spiking self-attention on the first step's feature map (llc-lif §3.2), as :class:`snnjax.layers.OSSA`.

    1×1 convolutions f, g, h of ``x [B, H, W, C]`` (or ``[S, B, H, W, C]``, S calls at t = 0), each
    followed by LLC-LIF neurons from rest, then attention over the N = H·W positions,

    .. math::  O = \\mathrm{softmax}\\big(f'(x)\\,g'(x)^\\top\\big)\\,h'(x)

    replacing the map (text), or ``γ·O + x`` with f, g reduced to C/8 and a learnable γ from 0 (code).

    Args:
        channels: C.
        neuron: the LLC-LIF neurons after f, g, h.
        form: ``text`` or ``code``.
        reduction: f's and g's channel reduction in the code form.
        attn_dropout: dropout on the attention matrix in training (needs ``key``).
    """

    def __init__(self, channels: int, neuron: NeuronConfig, *, form: str = "text", reduction: int = 8,
                 attn_dropout: float = 0.0, rngs: nnx.Rngs):
        width = qk_width(channels, form, reduction)
        for name, width in (("f", width), ("g", width), ("h", channels)):
            setattr(self, f"{name}_conv", SeqDense(channels, width, rngs=rngs))  # a 1×1 conv over positions
            setattr(self, f"{name}_neuron", SpikingNeuron(width, neuron, rngs=rngs))
        self.gamma = nnx.Param(jnp.zeros((), jnp.float32)) if form == "code" else None
        self.form, self.attn_dropout = form, attn_dropout

    def __call__(self, x: Array, *, train: bool, key: Array | None = None) -> Array:
        """``[B, H, W, C] -> [B, H, W, C]``, or ``[S, B, H, W, C] -> [S, B, H, W, C]``."""
        calls = x[None] if x.ndim == 4 else x
        at = positions(calls)

        def branch(name: str) -> Array:
            current = getattr(self, f"{name}_conv")(at)
            return getattr(self, f"{name}_neuron")(current)[0]  # [S, B, N, width], from rest

        drop = lambda attention: keyed_dropout(attention, self.attn_dropout, key, train=train,
                                               what="OSSA's attention dropout")
        attended = attend(branch("f"), branch("g"), branch("h"), at_least_float32(x), drop)
        out = onset_output(attended, calls, self.gamma[...] if self.gamma is not None else None)
        return out[0] if x.ndim == 4 else out
