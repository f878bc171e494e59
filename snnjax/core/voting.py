"""Voting output (llc-lif paper §4: ``100-10``; bpsa paper: ``10Voting``).

``N·K`` output neurons are average-pooled in consecutive groups of N, one group per class:
:math:`y_k = \\frac{1}{N} \\sum_{j=0}^{N-1} s_{kN + j}`.
"""

from __future__ import annotations

import jax

Array = jax.Array


def vote(x: Array, num_classes: int) -> Array:
    """``[..., N·K] -> [..., K]`` by averaging consecutive groups of N."""
    width = x.shape[-1]
    if width % num_classes:
        raise ValueError(f"voting needs a width divisible by {num_classes} classes, got {width}")
    return x.reshape(x.shape[:-1] + (num_classes, width // num_classes)).mean(axis=-1)
