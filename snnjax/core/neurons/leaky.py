"""snnTorch's leaky neuron (``snntorch.Leaky``): the reset is applied at the next step, by the
previous step's spike.

snnTorch and Spyx (``spyx.nn.LIF``) update the membrane as

.. math::
    m_t = \\beta\\,m_{t-1} + x_t - s_{t-1}\\,v_\\mathrm{th} \\quad (\\text{reset="soft": snnTorch's "subtract"}),
.. math::
    m_t = \\beta\\,(1 - s_{t-1})\\,m_{t-1} + x_t \\quad (\\text{reset="hard": snnTorch's "zero"}),
    \\qquad s_t = H(m_t - v_\\mathrm{th}),

with :math:`m` the membrane *before* its reset (what snnTorch returns as ``mem``). The hard form is
exactly :func:`snnjax.neurons.lif` with ``reset="hard"``; the soft form is not: ``lif``'s soft reset
is subtracted before the decay, :math:`m_t = \\beta\\,(m_{t-1} - s_{t-1} v_\\mathrm{th}) + x_t`, so the
two differ whenever β < 1. snnTorch fires on ``m > v_th`` and detaches the reset: pass
``spike_fn=surrogate.strict(...)`` and ``detach_reset=True`` to match it exactly. Spyx emits
:math:`s_{t-1}` at step t (its spike is computed from the membrane it received).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from snnjax.core import surrogate
from snnjax.core.neurons import dynamics, recursion

Array = jax.Array


class LeakyState(NamedTuple):
    """State of a snnTorch-convention leaky layer.

    Attributes:
        mem: membrane before its reset, :math:`m_{t-1}`, ``[*neuron_shape]``.
        spike: the last step's spikes :math:`s_{t-1}`, which reset the next step.
    """

    mem: Array
    spike: Array


def leaky_init_state(shape: tuple[int, ...], dtype: Any = jnp.float32) -> LeakyState:
    """The resting state: ``mem = 0``, no spike."""
    return LeakyState(mem=jnp.zeros(shape, dtype), spike=jnp.zeros(shape, dtype))


def reset_by_previous_spike(mem: Array, spike: Array, v_th: ArrayLike, reset: str,
                            detach: bool) -> tuple[Array, Array]:
    """``(carried, subtracted)``: the membrane the decay acts on, and what is subtracted after it.

    ``hard``: ``(m (1 - s), 0)``; ``soft``: ``(m, s v_th)``, so ``m_t = β·carried + x_t - subtracted``.
    """
    dynamics.check_reset(reset)
    s = jax.lax.stop_gradient(spike) if detach else spike
    s = s.astype(mem.dtype)
    if reset == "hard":
        return mem * (1 - s), jnp.zeros_like(mem)
    return mem, s * dynamics.as_dtype(v_th, mem)


def leaky_step(
    state: LeakyState,
    x_t: Array,
    *,
    decay: ArrayLike,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    reset: str = "soft",
    detach_reset: bool = False,
) -> tuple[LeakyState, Array]:
    """One step ``(state, x_t) -> (state, s_t)``; ``decay`` is snnTorch's β (see the module docstring)."""
    dynamics.check_state("leaky_step", state, x_t, fields=LeakyState._fields, init="leaky_init_state")
    carried, subtracted = reset_by_previous_spike(state.mem, state.spike, v_th, reset, detach_reset)
    mem = dynamics.charge(carried, x_t, decay) - subtracted
    s = spike_fn(mem, dynamics.as_dtype(v_th, mem))
    return LeakyState(mem, s), s.astype(x_t.dtype)


def leaky(
    x_seq: Array,
    *,
    decay: ArrayLike,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    state: LeakyState | None = None,
    reset: str = "soft",
    detach_reset: bool = False,
    unroll: int = 1,
) -> tuple[Array, LeakyState]:
    """snnTorch-convention leaky neurons over a sequence: ``x_seq [T, *shape] -> (s_seq, LeakyState)``.

    The same function as :func:`leaky_step` scanned over time. The loop carries, instead of the
    spike, the part of the next membrane that does not depend on the next input,
    :math:`q_t = f(m_t) = \\beta\\,c_t - r_t` (``(c_t, r_t)`` from :func:`reset_by_previous_spike`
    with :math:`s_t = H(m_t - v_\\mathrm{th})`), so that :math:`m_{t+1} = q_t + x_{t+1}`. The initial
    :math:`q` comes from the given state's membrane and spike, so any state (also one whose spike is
    not :math:`H(m - v_\\mathrm{th})`) is honoured.

    Its gradient is the adjoint of that recursion, written by hand so that each step of either pass
    is one fused loop body (:func:`snnjax.core.neurons.recursion.scan_membranes`). Values and
    gradients equal :func:`leaky_step`'s scan up to the order of one addition (``(βc - r) + x``
    against ``(βc + x) - r``), within 1e-13 in float64
    (``tests/core/test_neurons_speed_equivalence.py``). It took the chunked jaxpike SHD net at T = 256
    from parity with jaxpike's checkpointed path to ahead of it (``docs/performance.md``). Reverse
    mode only: for ``jax.jvp`` scan :func:`leaky_step`.

    The returned state's spike is ``spike_fn(mem, v_th)`` of its membrane (the last spike, recomputed
    from the last membrane): a loop over chunks can carry the membrane alone and rebuild the state as
    ``LeakyState(mem, spike_fn(mem, v_th))``.
    """
    dynamics.check_sequence(x_seq)
    dynamics.check_state("leaky", state, x_seq, fields=LeakyState._fields, init="leaky_init_state", sequence=True)
    dynamics.check_reset(reset)
    if state is None:
        state = leaky_init_state(x_seq.shape[1:], x_seq.dtype)
    # Cast once, before the loop; a per-neuron decay keeps its shape and is broadcast inside the
    # step's fusion.
    dynamics.check_float(state.mem, "the membrane state")
    decay = jnp.asarray(decay).astype(state.mem.dtype)
    v_th = jnp.asarray(v_th).astype(state.mem.dtype)
    q0 = _next_input_free(state.mem, state.spike, decay, v_th, reset, detach_reset)
    f = functools.partial(_step_outputs, reset=reset, detach=detach_reset)
    s_seq, mem = recursion.scan_membranes(f, q0, x_seq.astype(q0.dtype), (decay, v_th, spike_fn), unroll=unroll)
    return s_seq.astype(x_seq.dtype), LeakyState(mem, spike_fn(mem, v_th).astype(x_seq.dtype).astype(state.mem.dtype))


def _next_input_free(mem: Array, spike: Array, decay: Array, v_th: Array, reset: str, detach: bool) -> Array:
    """:math:`q = \\beta c - r`: the next membrane before its input."""
    carried, subtracted = reset_by_previous_spike(mem, spike, v_th, reset, detach)
    return dynamics.as_dtype(decay, carried) * carried - subtracted


def _step_outputs(mem: Array, params: tuple, *, reset: str, detach: bool) -> tuple[Array, Array]:
    """One step's ``(q, s)`` from its membrane (:mod:`~snnjax.core.neurons.recursion`'s ``f``)."""
    decay, v_th, spike_fn = params
    s = spike_fn(mem, v_th)
    return _next_input_free(mem, s, decay, v_th, reset, detach), s
