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

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.nn.layers.dropout import Dropout
from snnjax.nn.layers.spiking import NeuronConfig, SpikingNeuron
from snnjax.nn.layers.synapse import SeqDense

Array = jax.Array

OSSA_FORMS = ("text", "code")


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
        if self.form not in OSSA_FORMS:
            raise ValueError(f"ossa form must be one of {OSSA_FORMS}, got {self.form!r}")
        single = x.ndim == 4
        calls = x[None] if single else x
        steps, b, h, w, c = calls.shape
        qk_width = c if self.form == "text" else max(c // self.reduction, 1)
        positions = calls.reshape(steps, b, h * w, c)
        dtype = jnp.float64 if x.dtype == jnp.float64 else jnp.float32  # bfloat16 → float32

        def branch(width: int, name: str) -> Array:
            current = SeqDense(width, name=f"{name}_conv")(positions)  # a 1×1 conv
            return SpikingNeuron(self.neuron, name=f"{name}_neuron")(current)  # [S, B, N, width]

        f, g, v = branch(qk_width, "f"), branch(qk_width, "g"), branch(c, "h")
        scores = jnp.einsum("sbic,sbjc->sbij", f.astype(dtype), g.astype(dtype))
        attention = jax.nn.softmax(scores, axis=-1)
        attention = Dropout(self.attn_dropout, deterministic=not train)(attention)
        out = jnp.einsum("sbij,sbjc->sbic", attention, v.astype(dtype)).astype(x.dtype).reshape(calls.shape)
        if self.form == "code":
            gamma = self.param("gamma", nn.initializers.zeros, ())
            out = (gamma.astype(x.dtype) * out + calls).astype(x.dtype)
        return out[0] if single else out
