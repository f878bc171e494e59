"""Leaky integrate-and-fire neurons: LIF and LLC-LIF (learnable leak kτ(a) = sigmoid(a)).

One step (llc-lif paper §3.1, bpsa-bpta paper Eq. 1–3), with :math:`v` the membrane after reset:

.. math::
    h_t = k\\,v_{t-1} + x_t, \\qquad s_t = H(h_t - v_\\mathrm{th}), \\qquad v_t = h_t (1 - s_t),

i.e. the explicit iterative form :math:`u[t+1] = k\\,u[t]\\,(1 - o[t]) + I[t+1]`. The multi-step
functions scan the step over the leading (time) axis::

    step = functools.partial(lif_step, decay=0.5, v_th=1.0, spike_fn=surrogate.sigmoid())
    state, s_seq = jax.lax.scan(step, lif_init_state(x_seq.shape[1:]), x_seq)
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from snnjax.core import surrogate
from snnjax.core.neurons import dynamics, recursion

Array = jax.Array
ArrayLike = jax.typing.ArrayLike

LIF_IMPLS = ("scan", "pallas")


class LIFState(NamedTuple):
    """State of a LIF / LLC-LIF layer.

    Attributes:
        v: membrane potential after the last reset, ``[*neuron_shape]``.
    """

    v: Array


def lif_init_state(shape: tuple[int, ...], dtype: Any = jnp.float32) -> LIFState:
    """The resting state: ``v = 0`` of the given neuron shape (batch included)."""
    return LIFState(v=jnp.zeros(shape, dtype))


def lif_step(
    state: LIFState,
    x_t: Array,
    *,
    decay: ArrayLike,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = False,
) -> tuple[LIFState, Array]:
    """One LIF step ``(state, x_t) -> (state, s_t)``.

    Args:
        state: ``LIFState`` with ``v: [*shape]``.
        x_t: input current ``[*shape]``.
        decay: the leak ``k`` (a scalar or an array broadcasting against ``x_t``).
        v_th: threshold; a spike is ``h >= v_th``.
        spike_fn: the spike function (its backward pass is the surrogate, or BPSA).
        reset: ``"hard"`` (to 0) or ``"soft"`` (subtract ``v_th``).
        detach_reset: stop the gradient through the reset.
        bpta_alpha: BPTA residual coefficient (0 = off; the bpsa text uses 0.8, its code 0.2).
        decay_input: SpikingJelly's form ``h = k v + (1 - k) x`` instead of ``h = k v + x``.

    Returns:
        ``(LIFState(v_t), s_t)`` with ``s_t`` of ``x_t``'s dtype.
    """
    dynamics.check_state("lif_step", state, x_t, fields=LIFState._fields, init="lif_init_state")
    h = dynamics.charge(state.v, x_t, decay, decay_input)
    s = spike_fn(h, dynamics.as_dtype(v_th, h))
    v = dynamics.reset_membrane(h, s, v_th, reset, detach_reset)
    v = dynamics.temporal_residual(v, s, bpta_alpha)
    return LIFState(v), s.astype(x_t.dtype)


def lif(
    x_seq: Array,
    *,
    decay: ArrayLike,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    state: LIFState | None = None,
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = False,
    unroll: int = 1,
    impl: str = "scan",
) -> tuple[Array, LIFState]:
    """LIF neurons over a sequence: ``x_seq [T, *shape] -> (s_seq [T, *shape], state)``.

    The explicit iterative LIF of the llc-lif and bpsa-bpta papers,
    :math:`u[t+1] = k\\,u[t]\\,(1 - o[t]) + I[t+1]`, :math:`o = H(u - v_\\mathrm{th})`; see
    :func:`lif_step` for the arguments. ``state`` continues from a carried state (default: rest, in
    ``x_seq``'s dtype); ``unroll`` is passed to ``jax.lax.scan``.

    ``impl`` chooses the implementation: ``"scan"`` (the reference, :func:`lif_step` over time in a
    ``jax.lax.scan``; unless ``unroll`` covers the whole sequence, its gradient is the adjoint
    recursion written by hand, :func:`snnjax.core.neurons.recursion.scan_membranes`, which stores
    one membrane per step and runs each step of either pass as one fused loop body: the same values
    and gradients within float64 rounding, ``tests/core/test_neurons_speed_equivalence.py``; reverse
    mode only) or ``"pallas"`` (:func:`snnjax.kernels.lif_pallas`: one fused Pallas kernel forward
    and one backward, equal to the scan within float32 rounding; Triton on GPU, Pallas
    interpret mode on CPU; membrane in float32, spike functions Sigmoid, ATan, Boxcar, Triangle and
    BPSA only; ``unroll`` is ignored).
    """
    dynamics.check_sequence(x_seq)
    dynamics.check_state("lif", state, x_seq, fields=LIFState._fields, init="lif_init_state", sequence=True)
    dynamics.check_reset(reset)
    if impl not in LIF_IMPLS:
        raise ValueError(f"impl must be one of {LIF_IMPLS}, got {impl!r}")
    if impl == "pallas":
        # Imported on use: Pallas is only needed here.
        from snnjax.core.kernels import lif_pallas

        s_seq, v = lif_pallas(
            x_seq,
            decay=decay,
            v_th=v_th,
            spike_fn=spike_fn,
            v0=None if state is None else state.v,
            reset=reset,
            detach_reset=detach_reset,
            bpta_alpha=bpta_alpha,
            decay_input=decay_input,
            interpret=jax.default_backend() == "cpu",
        )
        return s_seq, LIFState(v)
    if state is None:
        state = lif_init_state(x_seq.shape[1:], x_seq.dtype)
    if unroll >= x_seq.shape[0]:
        # A fully unrolled loop is straight-line code that XLA fuses across steps: autodiff of it
        # is already one pass, so the step is scanned (the T = 4-16 conv nets, unroll="auto").
        step = functools.partial(lif_step, decay=decay, v_th=v_th, spike_fn=spike_fn, reset=reset,
                                 detach_reset=detach_reset, bpta_alpha=bpta_alpha, decay_input=decay_input)
        state, s_seq = jax.lax.scan(step, state, x_seq, unroll=unroll)
        return s_seq, state
    dynamics.check_float(state.v, "the membrane state")
    # h_t = k v_{t-1} + x_t (or + (1 - k) x_t) as the recursion h_t = q_{t-1} + x'_t with q = k v:
    # the operations of lif_step's charge in its order (k·v + x may round once, fused, or twice).
    x = x_seq.astype(state.v.dtype)
    if decay_input:
        x = (1 - dynamics.as_dtype(decay, x)) * x
    params = (decay, v_th, spike_fn, bpta_alpha)
    f = functools.partial(_step_outputs, reset=reset, detach=detach_reset)
    s_seq, h = recursion.scan_membranes(f, dynamics.as_dtype(decay, state.v) * state.v, x, params, unroll=unroll)
    return s_seq.astype(x_seq.dtype), LIFState(_after_spike(h, params, reset, detach_reset)[0])


def _after_spike(h: Array, params: tuple, reset: str, detach: bool) -> tuple[Array, Array]:
    """``(v, s)``: the membrane after its reset (and BPTA's gradient-only term), and the spike."""
    _, v_th, spike_fn, bpta_alpha = params
    s = spike_fn(h, dynamics.as_dtype(v_th, h))
    v = dynamics.reset_membrane(h, s, v_th, reset, detach)
    return dynamics.temporal_residual(v, s, bpta_alpha), s


def _step_outputs(h: Array, params: tuple, *, reset: str, detach: bool) -> tuple[Array, Array]:
    """One step's ``(q, s) = (k v, s)`` from its membrane before the reset
    (:mod:`~snnjax.core.neurons.recursion`'s ``f``)."""
    v, s = _after_spike(h, params, reset, detach)
    return dynamics.as_dtype(params[0], v) * v, s


def llc_leak(a: ArrayLike, decay_input: bool = False) -> Array:
    """The LLC-LIF leak :math:`k_\\tau(a) = \\mathrm{sigmoid}(a)` (llc-lif paper §3.1).

    With ``decay_input=True`` (the released code's SpikingJelly ``ParametricLIFNode``,
    ``h = v + (x - v)·sigmoid(a)``) ``sigmoid(a)`` scales the input and the leak is
    ``1 - sigmoid(a) = sigmoid(-a)``.
    """
    a = jnp.asarray(a)
    return jax.nn.sigmoid(-a) if decay_input else jax.nn.sigmoid(a)


def llc_lif_step(
    state: LIFState,
    x_t: Array,
    a: ArrayLike,
    *,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = False,
) -> tuple[LIFState, Array]:
    """One LLC-LIF step: :func:`lif_step` with ``decay = sigmoid(a)`` (see :func:`llc_leak`)."""
    dynamics.check_state("llc_lif_step", state, x_t, fields=LIFState._fields, init="lif_init_state")
    return lif_step(
        state,
        x_t,
        decay=llc_leak(a, decay_input),
        v_th=v_th,
        spike_fn=spike_fn,
        reset=reset,
        detach_reset=detach_reset,
        bpta_alpha=bpta_alpha,
        decay_input=decay_input,
    )


def llc_lif(
    x_seq: Array,
    a: ArrayLike,
    *,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    state: LIFState | None = None,
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = False,
    unroll: int = 1,
    impl: str = "scan",
) -> tuple[Array, LIFState]:
    """LLC-LIF over a sequence (llc-lif paper §3.1): LIF with a learnable leak.

    .. math::  u[t+1] = k_\\tau(a)\\,u[t]\\,(1 - o[t]) + \\textstyle\\sum w\\,o_\\mathrm{prev}[t+1],
               \\qquad k_\\tau(a) = \\mathrm{sigmoid}(a)

    ``a`` is one scalar per layer in the paper; an array broadcasting against ``x_seq[0]`` gives one
    leak per channel. ``decay_input=True`` is the released code's form (SpikingJelly PLIF,
    ``h = v + (x - v)·sigmoid(a)``). Other arguments (``impl`` included) as in :func:`lif`.
    """
    dynamics.check_sequence(x_seq)
    dynamics.check_state("llc_lif", state, x_seq, fields=LIFState._fields, init="lif_init_state", sequence=True)
    return lif(
        x_seq,
        decay=llc_leak(a, decay_input),
        v_th=v_th,
        spike_fn=spike_fn,
        state=state,
        reset=reset,
        detach_reset=detach_reset,
        bpta_alpha=bpta_alpha,
        decay_input=decay_input,
        unroll=unroll,
        impl=impl,
    )
