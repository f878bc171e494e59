"""Adaptive LIF (ALIF, Bellec et al. 2018): the threshold rises after each spike and relaxes back.

The CE-LIF paper's baseline. One step, with :math:`v` the membrane after reset:

.. math::
    h_t = k\\,v_{t-1} + x_t, \\qquad
    \\vartheta_t = v_\\mathrm{th} + \\beta\\,\\eta_{t-1}, \\qquad
    s_t = H(h_t - \\vartheta_t),
.. math::
    v_t = h_t (1 - s_t) \\;(\\text{soft: } h_t - s_t \\vartheta_t), \\qquad
    \\eta_t = \\rho\\,\\eta_{t-1} + (1 - \\rho)\\,s_t,

so that :math:`\\vartheta[t] = \\vartheta_0 + \\beta\\,\\eta[t]`,
:math:`\\eta[t] = \\rho\\,\\eta[t-1] + (1-\\rho)\\,s[t-1]`: Eq. 3 ("Adaptive LIF Neuron Model", Methods) of
the CE-LIF paper, "Unleashing the Potential of Spiking Neural Networks for Sequential Modeling with
Contextual Embedding" (docs/papers.md §3.8 restores the equation).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from snnjax.core import surrogate
from snnjax.core.neurons import dynamics

Array = jax.Array
ArrayLike = jax.typing.ArrayLike

ALIF_IMPLS = ("scan", "pallas")


class ALIFState(NamedTuple):
    """State of an ALIF layer.

    Attributes:
        v: membrane potential after the last reset, ``[*neuron_shape]``.
        eta: threshold adaptation trace :math:`\\eta` (after the last spike), ``[*neuron_shape]``.
    """

    v: Array
    eta: Array


def alif_init_state(shape: tuple[int, ...], dtype: Any = jnp.float32) -> ALIFState:
    """The resting state: ``v = 0``, ``eta = 0``."""
    return ALIFState(v=jnp.zeros(shape, dtype), eta=jnp.zeros(shape, dtype))


def alif_step(
    state: ALIFState,
    x_t: Array,
    *,
    decay: ArrayLike = 0.5,
    rho: ArrayLike = 0.99,
    beta: ArrayLike = 1.8,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = False,
) -> tuple[ALIFState, Array]:
    """One ALIF step ``(state, x_t) -> (state, s_t)``.

    Args:
        state: ``ALIFState``.
        x_t: input current ``[*shape]``.
        decay: membrane leak ``k``.
        rho: decay of the adaptation trace (slow, e.g. 0.99).
        beta: adaptation strength.
        v_th: the baseline threshold :math:`\\vartheta_0`.
        spike_fn, reset, detach_reset, bpta_alpha, decay_input: as in :func:`snnjax.neurons.lif_step`;
            a soft reset subtracts the adapted threshold.
    """
    dynamics.check_state("alif_step", state, x_t, fields=ALIFState._fields, init="alif_init_state")
    h = dynamics.charge(state.v, x_t, decay, decay_input)
    theta = dynamics.as_dtype(v_th, h) + dynamics.as_dtype(beta, h) * state.eta
    s = spike_fn(h, theta)
    v = dynamics.reset_membrane(h, s, theta, reset, detach_reset)
    v = dynamics.temporal_residual(v, s, bpta_alpha)
    r = dynamics.as_dtype(rho, h)
    eta = r * state.eta + (1 - r) * s
    return ALIFState(v, eta), s.astype(x_t.dtype)


def alif(
    x_seq: Array,
    *,
    decay: ArrayLike = 0.5,
    rho: ArrayLike = 0.99,
    beta: ArrayLike = 1.8,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    state: ALIFState | None = None,
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = False,
    unroll: int = 1,
    impl: str = "scan",
) -> tuple[Array, ALIFState]:
    """ALIF neurons over a sequence: ``x_seq [T, *shape] -> (s_seq [T, *shape], state)``.

    See :func:`alif_step` for the dynamics and arguments. ``impl``: ``"scan"`` (the reference, a
    ``jax.lax.scan`` of :func:`alif_step`; ``unroll`` is passed to it) or ``"pallas"``
    (:func:`snnjax.kernels.alif_pallas`, one fused kernel forward and one backward, equal to the scan
    within float32 rounding; state in float32 inside; the restrictions of
    :func:`snnjax.neurons.lif`'s ``impl="pallas"`` apply).
    """
    dynamics.check_sequence(x_seq)
    dynamics.check_state("alif", state, x_seq, fields=ALIFState._fields, init="alif_init_state", sequence=True)
    dynamics.check_reset(reset)
    if impl not in ALIF_IMPLS:
        raise ValueError(f"impl must be one of {ALIF_IMPLS}, got {impl!r}")
    if impl == "pallas":
        from snnjax.core.kernels import alif_pallas  # imported on use: Pallas is only needed here

        s_seq, v, eta = alif_pallas(
            x_seq, decay=decay, rho=rho, beta=beta, v_th=v_th, spike_fn=spike_fn,
            v0=None if state is None else state.v, eta0=None if state is None else state.eta,
            reset=reset, detach_reset=detach_reset, bpta_alpha=bpta_alpha, decay_input=decay_input,
        )
        return s_seq, ALIFState(v, eta)
    if state is None:
        state = alif_init_state(x_seq.shape[1:], x_seq.dtype)
    step = functools.partial(
        alif_step,
        decay=decay,
        rho=rho,
        beta=beta,
        v_th=v_th,
        spike_fn=spike_fn,
        reset=reset,
        detach_reset=detach_reset,
        bpta_alpha=bpta_alpha,
        decay_input=decay_input,
    )
    state, s_seq = jax.lax.scan(step, state, x_seq, unroll=unroll)
    return s_seq, state
