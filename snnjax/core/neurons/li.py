"""Leaky integrator: a non-spiking readout neuron whose output is its membrane (Spyx ``nn.LI``,
SpikingJelly ``NonSpikingLIFNode``).

.. math::  v_t = k\\,v_{t-1} + x_t \\quad\\text{or, with decay_input,}\\quad v_t = k\\,v_{t-1} + (1 - k)\\,x_t,

the second being SpikingJelly's ``NonSpikingLIFNode(tau)`` with ``k = 1 - 1/τ``. With ``k = 0`` the
output is the input: a plain linear readout. Losses on the membrane: ``snnjax.losses.mse_membrane``,
``ce_max_membrane``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from snnjax.core.neurons import dynamics

Array = jax.Array


class LIState(NamedTuple):
    """State of a leaky-integrator layer: the membrane ``v [*neuron_shape]``."""

    v: Array


def li_init_state(shape: tuple[int, ...], dtype: Any = jnp.float32) -> LIState:
    return LIState(v=jnp.zeros(shape, dtype))


def li_step(state: LIState, x_t: Array, *, decay: ArrayLike, decay_input: bool = False) -> tuple[LIState, Array]:
    """One step ``(state, x_t) -> (state, v_t)``: the output is the membrane."""
    dynamics.check_state("li_step", state, x_t, fields=LIState._fields, init="li_init_state")
    v = dynamics.charge(state.v, x_t, decay, decay_input)
    return LIState(v), v


def li(x_seq: Array, *, decay: ArrayLike, state: LIState | None = None, decay_input: bool = False,
       unroll: int = 1) -> tuple[Array, LIState]:
    """Leaky integration over a sequence: ``x_seq [T, *shape] -> (v_seq [T, *shape], LIState)``."""
    dynamics.check_sequence(x_seq)
    dynamics.check_state("li", state, x_seq, fields=LIState._fields, init="li_init_state", sequence=True)
    if state is None:
        state = li_init_state(x_seq.shape[1:], x_seq.dtype)
    dynamics.check_float(state.v, "the membrane state")
    decay = jnp.asarray(decay).astype(state.v.dtype)  # cast once, outside the loop; broadcast inside it
    state, v_seq = jax.lax.scan(lambda st, x: li_step(st, x, decay=decay, decay_input=decay_input),
                                state, x_seq, unroll=unroll)
    return v_seq, state
