"""What every snnjax model returns: a pytree of time-major outputs (no Flax: the losses in core read it)."""

from __future__ import annotations

import dataclasses
import functools

import jax

READOUTS = ("mean", "sum", "last", "per_step")


@functools.partial(jax.tree_util.register_dataclass, data_fields=("out", "local_outs"), meta_fields=("readout",))
@dataclasses.dataclass(frozen=True)
class ModelOutput:
    """A model's outputs, time-major.

    Attributes:
        out: ``[T, B, K]`` the output layer's time series (spikes after voting, or an analog readout).
        local_outs: one ``[T, B, K]`` per local (auxiliary) classifier; empty when local losses are off.
        readout: how ``out`` becomes a prediction: ``"mean"`` over time (firing rate or time-averaged
            readout), ``"sum"`` over time (T times the mean: the logits of the CE-LIF authors' group's
            TC-LIF code, issue 30 §3), ``"last"`` time step, or ``"per_step"`` (one prediction per
            step, e.g. copy memory). Static: not a leaf of the pytree.
    """

    out: jax.Array
    local_outs: tuple[jax.Array, ...] = ()
    readout: str = "mean"

    def replace(self, **changes) -> ModelOutput:
        """A copy with ``changes`` (as ``flax.struct`` dataclasses)."""
        return dataclasses.replace(self, **changes)

    def prediction(self) -> jax.Array:
        """``[B, K]`` (``mean``/``sum``/``last``) or ``[T, B, K]`` (``per_step``) read out from ``out``."""
        return read_out(self.out, self.readout)


def read_out(out: jax.Array, readout: str) -> jax.Array:
    """Applies a readout to a ``[T, B, K]`` time series."""
    if readout == "mean":
        return out.mean(axis=0)
    if readout == "sum":
        return out.sum(axis=0)
    if readout == "last":
        return out[-1]
    if readout == "per_step":
        return out
    raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
