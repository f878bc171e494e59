"""Losses of the three papers, on a model's time-major output (``snnjax.models.ModelOutput``).

- ``mse_rate``: mean squared error between the output firing rate (mean over time) and the one-hot
  label (llc-lif paper §3.4; bpsa-bpta paper Eq. 5). ``reduction="mean"`` averages over classes as
  PyTorch's ``mse_loss`` does (the papers' released code); ``"sum"`` sums over classes (Eq. 5).
- ``cross_entropy``: softmax cross-entropy of the read-out output (CE-LIF: the time-averaged
  linear readout; copy memory: one prediction per step).
- ``mse_regression``: mean squared error of a scalar read-out (the adding problem).

With local classifiers the total is :math:`L = L_\\mathrm{global} + w \\sum_i L_{\\mathrm{local},i}`
(llc-lif paper §3.4, w = 1).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from snnjax.models.output import ModelOutput, read_out

Array = jax.Array


def _loss_dtype(x: Array):
    """Losses in at least float32 (bfloat16 outputs are promoted), float64 for a float64 model."""
    return jnp.float64 if x.dtype == jnp.float64 else jnp.float32


def mse_rate(out: Array, labels: Array, readout: str = "mean", reduction: str = "mean") -> Array:
    """MSE between read-out rates ``[B, K]`` and one-hot ``labels [B]``."""
    rates = read_out(out, readout)
    rates = rates.astype(_loss_dtype(rates))
    target = jax.nn.one_hot(labels, rates.shape[-1], dtype=rates.dtype)
    sq = jnp.square(rates - target)
    per_example = sq.mean(axis=-1) if reduction == "mean" else sq.sum(axis=-1)
    return per_example.mean()


def cross_entropy(out: Array, labels: Array, readout: str = "mean", reduction: str = "mean") -> Array:
    """Softmax cross-entropy of the read-out logits against integer labels (``[B]`` or ``[B, T]``)."""
    logits = read_out(out, readout)
    logits = logits.astype(_loss_dtype(logits))
    if readout == "per_step":
        logits = jnp.swapaxes(logits, 0, 1)  # [B, T, K] to match labels [B, T]
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels.astype(jnp.int32)).mean()


def mse_regression(out: Array, targets: Array, readout: str = "last", reduction: str = "mean") -> Array:
    """MSE of a scalar read-out ``[B, 1]`` against float ``targets [B]``."""
    pred = read_out(out, readout)
    pred = pred.astype(_loss_dtype(pred))[..., 0]
    return jnp.square(pred - targets.astype(pred.dtype)).mean()


LOSSES: dict[str, Callable[..., Array]] = {
    "mse_rate": mse_rate,
    "cross_entropy": cross_entropy,
    "mse_regression": mse_regression,
}


def get(name: str) -> Callable[..., Array]:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}") from None


def total_loss(
    output: ModelOutput,
    labels: Array,
    name: str,
    local_weight: float = 1.0,
    reduction: str = "mean",
) -> tuple[Array, dict[str, Array]]:
    """``L_global + local_weight · Σ L_local`` and its parts, for one batch.

    The local classifiers are read out like the global one (their rates, llc-lif paper §3.4).
    """
    fn = get(name)
    global_loss = fn(output.out, labels, output.readout, reduction)
    parts = {"loss_global": global_loss}
    total = global_loss
    for i, local in enumerate(output.local_outs):
        local_loss = fn(local, labels, output.readout, reduction)
        parts[f"loss_local_{i}"] = local_loss
        total = total + local_weight * local_loss
    parts["loss"] = total
    return total, parts


def accuracy(output: ModelOutput, labels: Array) -> Array:
    """Fraction of correct argmax predictions (per step for ``per_step`` readouts)."""
    pred = output.prediction()
    if output.readout == "per_step":
        pred = jnp.swapaxes(pred, 0, 1)  # [B, T, K]
    return (jnp.argmax(pred, axis=-1) == labels).astype(jnp.float32).mean()
