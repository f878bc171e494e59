"""OSSA: onset spiking self-attention, at the first time step only (llc-lif paper §3.2).

Text form (default): 1×1 convolutions f, g, h of the t = 0 feature map ``x [B, H, W, C]``, each
followed by LLC-LIF neurons, then attention over the N = H·W positions

.. math::  O = \\mathrm{softmax}\\big(f'(x)\\,g'(x)^\\top\\big)\\,h'(x), \\qquad O \\in \\mathbb{R}^{N \\times C},

and O replaces the feature map at t = 0 (the text mentions no residual).

Released-code form (``form="code"``, SAGAN style): Q, K = LLC-LIF(1×1 conv to C/8), V = LLC-LIF(1×1
conv to C), A = softmax(Q Kᵀ) over positions with dropout on A, and the output is
:math:`\\gamma\\,(A V) + x` with a learnable scalar γ starting at 0 (the block starts as identity).

The input may carry a leading axis of successive calls at t = 0, ``[S, B, H, W, C]``: the released
code runs its onset block twice at t = 0 (once for the classifier head, once for the second local
head), so the f, g, h neurons advance S steps and each call draws its own attention dropout.
The attention is computed in the input's precision (at least float32: bfloat16 is promoted).
"""

from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from snnjax.core.precision import at_least_float32
from snnjax.nn.layers.dropout import Dropout
from snnjax.nn.layers.spiking import NeuronConfig, SpikingNeuron
from snnjax.nn.layers.synapse import SeqDense

Array = jax.Array

OSSA_FORMS = ("text", "code")


def qk_width(channels: int, form: str, reduction: int) -> int:
    """The width of f and g: C (text) or ``max(C // reduction, 1)`` (code)."""
    if form not in OSSA_FORMS:
        raise ValueError(f"ossa form must be one of {OSSA_FORMS}, got {form!r}")
    return channels if form == "text" else max(channels // reduction, 1)


def positions(calls: Array) -> Array:
    """``[S, B, H, W, C] -> [S, B, N, C]``: the N = H·W positions the attention runs over."""
    steps, b, h, w, c = calls.shape
    return calls.reshape(steps, b, h * w, c)


def attend(f: Array, g: Array, v: Array, dtype: DTypeLike,
           drop: Callable[[Array], Array] = lambda attention: attention) -> Array:
    """:math:`O = \\mathrm{softmax}(f g^\\top) v` over positions, ``[S, B, N, ·] -> [S, B, N, C_v]``, in
    ``dtype``; ``drop`` acts on the attention matrix (the code form's dropout)."""
    scores = jnp.einsum("sbic,sbjc->sbij", f.astype(dtype), g.astype(dtype))
    attention = drop(jax.nn.softmax(scores, axis=-1))
    return jnp.einsum("sbij,sbjc->sbic", attention, v.astype(dtype))


def onset_output(attended: Array, calls: Array, gamma: Array | None) -> Array:
    """The block's output map from ``O [S, B, N, C]``: O itself (text) or ``γ·O + x`` (code, ``gamma``)."""
    out = attended.astype(calls.dtype).reshape(calls.shape)
    return out if gamma is None else (gamma.astype(calls.dtype) * out + calls).astype(calls.dtype)


class OSSA(nn.Module):
    """Onset spiking self-attention on the first step's feature map ``x: [B, H, W, C]``.

    Attributes:
        neuron: the LLC-LIF neurons after f, g, h.
        form: ``text`` or ``code`` (see the module docstring).
        reduction: channel reduction of f and g in the code form (C/8).
        attn_dropout: dropout on the attention matrix (code: 0.1).
    """

    neuron: NeuronConfig = NeuronConfig(kind="llc_lif")
    form: str = "text"
    reduction: int = 8
    attn_dropout: float = 0.0

    @nn.compact
    def __call__(self, x: Array, *, train: bool) -> Array:
        """``[B, H, W, C] -> [B, H, W, C]``, or ``[S, B, H, W, C]`` (S calls in a row) ``-> [S, B, H, W, C]``."""
        single = x.ndim == 4
        calls = x[None] if single else x
        width = qk_width(calls.shape[-1], self.form, self.reduction)
        at = positions(calls)

        def branch(width: int, name: str) -> Array:
            current = SeqDense(width, name=f"{name}_conv")(at)  # a 1×1 conv
            return SpikingNeuron(self.neuron, name=f"{name}_neuron")(current)  # [S, B, N, width]

        f, g, v = branch(width, "f"), branch(width, "g"), branch(calls.shape[-1], "h")
        drop = Dropout(self.attn_dropout, deterministic=not train)
        attended = attend(f, g, v, at_least_float32(x), drop)
        gamma = self.param("gamma", nn.initializers.zeros, ()) if self.form == "code" else None
        out = onset_output(attended, calls, gamma)
        return out[0] if single else out
