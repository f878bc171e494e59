"""CE-LIF: LIF with a contextual-embedding adaptive threshold (Eq. 4, "Contextual Embedding LIF Neuron",
Methods, of "Unleashing the Potential of Spiking Neural Networks for Sequential Modeling with Contextual
Embedding"; the equations are restored in docs/papers.md §3.8).

.. math::
    u[t] = \\alpha\\,u[t-1]\\,(1 - s[t-1]) + x[t],
.. math::
    \\theta[t] = \\rho\\,\\theta[t-1] + (1 - \\rho)\\,\\theta_0 + u[t-1] \\odot \\mathrm{TE}[t],
    \\qquad \\theta[0] = \\theta_0,
.. math::
    s[t] = H(u[t] - \\theta[t]),

where TE is a learnable temporal encoding, one vector per time step (``[T, *neuron_shape]``), and the
surrogate gradient reaches :math:`\\theta` (as :math:`-g'`), so TE learns. The paper's constants are
most likely α = 0.5, ρ = 0.99, θ₀ = 0.3 and a boxcar surrogate of width 0.2; these are the defaults.
``u[t-1]`` is the membrane before its reset, as the equation for ``u`` shows.
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

CE_LIF_IMPLS = ("scan", "pallas")

# Which membrane drives the threshold (issue 30 §3: the equations of the paper did not survive, so
# the reading is a switch). ``u_prev`` is docs/papers.md §3.8's reading and the default:
#   u_prev:         θ[t] = ρ θ[t−1] + (1 − ρ) θ₀ + u[t−1] ⊙ TE[t]
#   u_now:          θ[t] = ρ θ[t−1] + (1 − ρ) θ₀ + u[t] ⊙ TE[t]       (the membrane of this step)
#   u_prev_scaled:  θ[t] = ρ θ[t−1] + (1 − ρ) (θ₀ + u[t−1] ⊙ TE[t])   (the drive decays with θ₀)
THRESHOLD_DRIVES = ("u_prev", "u_now", "u_prev_scaled")


def check_threshold_drive(threshold_drive: str) -> None:
    if threshold_drive not in THRESHOLD_DRIVES:
        raise ValueError(f"threshold_drive must be one of {THRESHOLD_DRIVES}, got {threshold_drive!r}")


class CELIFState(NamedTuple):
    """State of a CE-LIF layer.

    Attributes:
        v: membrane after the last reset (what the next charge starts from), ``[*neuron_shape]``.
        u: membrane before the last reset, :math:`u[t-1]`, which drives the next threshold.
        theta: the last threshold :math:`\\theta[t-1]`.
    """

    v: Array
    u: Array
    theta: Array


def ce_lif_init_state(shape: tuple[int, ...], v_th: ArrayLike = 0.3, dtype: Any = jnp.float32) -> CELIFState:
    """The resting state: ``v = u = 0``, ``theta = θ₀ = v_th`` (so that ``θ[0] = θ₀``)."""
    zeros = jnp.zeros(shape, dtype)
    return CELIFState(v=zeros, u=zeros, theta=jnp.full(shape, v_th, dtype))


def check_te_shape(te_shape: tuple[int, ...], x_shape: tuple[int, ...], name: str = "te_t") -> None:
    """TE is one value per neuron: its shape must equal the trailing axes of the input, exactly.

    ``[N]`` (or ``[H, W, C]``) for an input ``[B, N]`` (``[B, H, W, C]``), or the input's whole
    shape. A scalar or a size-1 axis would silently share one threshold encoding between all
    neurons (the ce-lif paper learns one per neuron and time step), so it is refused; pass
    ``jnp.broadcast_to(te, (T, N))`` to mean that on purpose.
    """
    k = len(te_shape)
    if k == 0 or k > len(x_shape) or tuple(te_shape) != tuple(x_shape[len(x_shape) - k:]):
        example = x_shape[-1:] if x_shape else ()
        raise ValueError(
            f"{name} must have the shape of the input's trailing (neuron) axes, e.g. {list(example)} for "
            f"an input of shape {list(x_shape)}; got {list(te_shape)}. TE is learned per neuron; to share one "
            f"value across neurons, broadcast it explicitly (jnp.broadcast_to)"
        )


def ce_lif_step(
    state: CELIFState,
    x_t: Array,
    te_t: ArrayLike,
    *,
    decay: ArrayLike = 0.5,
    rho: ArrayLike = 0.99,
    v_th: ArrayLike = 0.3,
    spike_fn: surrogate.SpikeFunction = surrogate.Boxcar(0.2),
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = False,
    threshold_drive: str = "u_prev",
) -> tuple[CELIFState, Array]:
    """One CE-LIF step ``(state, x_t, te_t) -> (state, s_t)``.

    Args:
        state: ``CELIFState``.
        x_t: input current ``[*shape]``.
        te_t: this step's temporal encoding, the shape of ``x_t``'s trailing (neuron) axes: ``[N]``
            for ``x_t: [B, N]`` (or ``x_t``'s whole shape); a scalar or a size-1 axis that would
            broadcast is an error (:func:`check_te_shape`).
        decay: membrane decay α.
        rho: threshold decay ρ (slow: 0.99).
        v_th: baseline threshold θ₀.
        spike_fn, reset, detach_reset, bpta_alpha, decay_input: as in :func:`snnjax.neurons.lif_step`;
            a soft reset subtracts θ[t].
        threshold_drive: which membrane drives the threshold (:data:`THRESHOLD_DRIVES`):
            ``"u_prev"`` (the default, the equation above), ``"u_now"`` (``u[t] ⊙ TE[t]``) or
            ``"u_prev_scaled"`` (``(1 − ρ)·u[t−1] ⊙ TE[t]``); readings of the lost Eq. 4.
    """
    dynamics.check_state("ce_lif_step", state, x_t, fields=CELIFState._fields, init="ce_lif_init_state")
    check_te_shape(jnp.shape(te_t), jnp.shape(x_t))
    check_threshold_drive(threshold_drive)
    u = dynamics.charge(state.v, x_t, decay, decay_input)
    r = dynamics.as_dtype(rho, u)
    drive = (u if threshold_drive == "u_now" else state.u) * dynamics.as_dtype(te_t, u)
    if threshold_drive == "u_prev_scaled":
        drive = (1 - r) * drive
    theta = r * state.theta + (1 - r) * dynamics.as_dtype(v_th, u) + drive
    s = spike_fn(u, theta)
    v = dynamics.reset_membrane(u, s, theta, reset, detach_reset)
    v = dynamics.temporal_residual(v, s, bpta_alpha)
    return CELIFState(v, u, theta), s.astype(x_t.dtype)


def ce_lif(
    x_seq: Array,
    te: ArrayLike,
    *,
    decay: ArrayLike = 0.5,
    rho: ArrayLike = 0.99,
    v_th: ArrayLike = 0.3,
    spike_fn: surrogate.SpikeFunction = surrogate.Boxcar(0.2),
    state: CELIFState | None = None,
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = False,
    unroll: int = 1,
    impl: str = "scan",
    threshold_drive: str = "u_prev",
) -> tuple[Array, CELIFState]:
    """CE-LIF neurons over a sequence: ``x_seq [T, *shape], te [T, ...] -> (s_seq, state)``.

    ``te`` is ``[T, *neuron_shape]``: ``[T, N]`` for ``x_seq: [T, B, N]``, ``[T, H, W, C]`` for
    ``[T, B, H, W, C]`` (or ``x_seq``'s whole shape). ``[T]`` or ``[T, 1]`` is an error, not a
    silent broadcast of one value to every neuron (:func:`check_te_shape`). See
    :func:`ce_lif_step` for the dynamics and arguments.
    ``impl``: ``"scan"`` (the reference, a
    ``jax.lax.scan`` of :func:`ce_lif_step`; ``unroll`` is passed to it) or ``"pallas"``
    (:func:`snnjax.kernels.ce_lif_pallas`, one fused kernel forward and one backward, equal to the
    scan within float32 rounding; state in float32 inside; the restrictions of
    :func:`snnjax.neurons.lif`'s ``impl="pallas"`` apply).
    """
    dynamics.check_sequence(x_seq)
    dynamics.check_state("ce_lif", state, x_seq, fields=CELIFState._fields, init="ce_lif_init_state", sequence=True)
    dynamics.check_reset(reset)
    if impl not in CE_LIF_IMPLS:
        raise ValueError(f"impl must be one of {CE_LIF_IMPLS}, got {impl!r}")
    check_threshold_drive(threshold_drive)
    if impl == "pallas" and threshold_drive != "u_prev":
        raise ValueError(f"impl='pallas' computes threshold_drive='u_prev' only; use impl='scan' for {threshold_drive!r}")
    te = jnp.asarray(te)
    if te.ndim < 1 or te.shape[0] != x_seq.shape[0]:
        raise ValueError(
            f"te must have one row per time step: te.shape[0] == x_seq.shape[0] == {x_seq.shape[0]}, "
            f"got te.shape={te.shape}"
        )
    check_te_shape(te.shape[1:], x_seq.shape[1:], "te[t]")
    if impl == "pallas":
        from snnjax.core.kernels import ce_lif_pallas  # imported on use: Pallas is only needed here

        s_seq, v, u, theta = ce_lif_pallas(
            x_seq, te, decay=decay, rho=rho, v_th=v_th, spike_fn=spike_fn,
            v0=None if state is None else state.v, u0=None if state is None else state.u,
            theta0=None if state is None else state.theta,
            reset=reset, detach_reset=detach_reset, bpta_alpha=bpta_alpha, decay_input=decay_input,
        )
        return s_seq, CELIFState(v, u, theta)
    if state is None:
        state = ce_lif_init_state(x_seq.shape[1:], v_th, x_seq.dtype)
    step = functools.partial(
        ce_lif_step,
        decay=decay,
        rho=rho,
        v_th=v_th,
        spike_fn=spike_fn,
        reset=reset,
        detach_reset=detach_reset,
        bpta_alpha=bpta_alpha,
        decay_input=decay_input,
        threshold_drive=threshold_drive,
    )
    state, s_seq = jax.lax.scan(lambda st, xs: step(st, *xs), state, (x_seq, te), unroll=unroll)
    return s_seq, state
