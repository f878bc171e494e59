"""The loop of a multi-step neuron whose state is one membrane, as an input-driven elementwise
recursion with its adjoint written by hand (used by :func:`snnjax.neurons.leaky`, and by
:func:`snnjax.neurons.lif` and the neurons built on it unless their loop is fully unrolled).

Step by step,

.. math::  h_t = q_{t-1} + x_t, \\qquad (q_t, s_t) = f(h_t; \\theta),

with :math:`h_t` the membrane before the reset, :math:`s_t` the spike and :math:`q_t` the part of
the next membrane that does not depend on the next input (:math:`q_t = \\beta c_t - r_t` for
``leaky``, :math:`k\\,v_t` for ``lif``, with :math:`v_t` the membrane after its reset).
:math:`f` is elementwise in :math:`h` and :math:`\\theta` holds its parameters (leak, threshold,
the spike function's own).

:func:`scan_membranes` runs it over time. Its gradient is the adjoint recursion

.. math::  \\lambda_t = \\bar s_t\\,\\frac{\\partial s_t}{\\partial h_t}
           + \\frac{\\partial q_t}{\\partial h_t}\\,\\lambda_{t+1}
           \\; (+\\,\\bar h_{T-1} \\text{ at } t = T-1), \\qquad \\lambda_T = 0,

:math:`\\lambda_t = \\partial L / \\partial h_t = \\partial L / \\partial x_t`, each step's local
derivatives taken by ``jax.vjp`` of :math:`f` (so a spike function's surrogate rule, a detached
reset and BPTA's gradient-only term act as in autodiff of the step), and
:math:`\\bar\\theta = \\sum_t \\partial (q_t, s_t)/\\partial\\theta \\cdot (\\lambda_{t+1}, \\bar s_t)`
summed inside the same loop. Written by hand (a ``jax.custom_vjp``) so that each step of either pass
is one fused loop body: the forward pass stores the membranes :math:`h_t` only (one array written
per step; the spikes come from them in one pass), and nothing is sliced or padded outside the loops.
Autodiff of the same scan stores its residuals and output from separate fusions, three per forward
step (issue 37, ``docs/performance.md``). Reverse mode only: ``jax.jvp`` needs the step scanned.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
PyTree = Any
StepOutputs = Callable[[Array, PyTree], tuple[Array, Array]]


def scan_membranes(f: StepOutputs, q0: Array, x_seq: Array, params: PyTree, *, unroll: int = 1) -> tuple[Array, Array]:
    """``(s_seq, h_{T-1})`` of :math:`h_t = q_{t-1} + x_t`, :math:`(q_t, s_t) = f(h_t; \\theta)`.

    Args:
        f: ``f(h, params) -> (q, s)``, elementwise in ``h`` (``params`` broadcast against it), so it
            also maps a whole ``[T, ...]`` sequence of membranes.
        q0: the first step's input-free membrane ``[*shape]`` (from the carried state).
        x_seq: the input ``[T, *shape]``, in ``q0``'s dtype.
        params: ``θ``, any pytree: its floating-point array leaves are differentiated (and may be
            traced), the rest (Python numbers, a spike function's primitive) is static.
        unroll: ``jax.lax.scan``'s unroll, for both loops.

    Returns:
        The spikes ``[T, *shape]`` and the last membrane before its reset ``[*shape]``.
    """
    arrays, static = _split_floats(params)
    return _scan(q0, x_seq, arrays, (f, static, unroll))


def _split_floats(tree: PyTree) -> tuple[list, tuple]:
    """``tree``'s floating-point leaves, and the rest (its structure and every other leaf) as a key."""
    leaves, treedef = jax.tree.flatten(tree)
    mask = tuple(_is_float(leaf) for leaf in leaves)
    arrays = [leaf for leaf, is_float in zip(leaves, mask) if is_float]
    others = tuple(leaf for leaf, is_float in zip(leaves, mask) if not is_float)
    return arrays, (treedef, mask, others)


def _is_float(leaf: Any) -> bool:
    """An array of floats (a Python float stays a static constant: it cannot be differentiated)."""
    return isinstance(leaf, (jax.Array, np.ndarray, np.generic)) and jnp.issubdtype(leaf.dtype, jnp.inexact)


def _join_floats(arrays: list, static: tuple) -> PyTree:
    treedef, mask, others = static
    arrays, others = iter(arrays), iter(others)
    return jax.tree.unflatten(treedef, [next(arrays) if is_float else next(others) for is_float in mask])


def _outputs(h: Array, arrays: list, key: tuple) -> tuple[Array, Array]:
    f, static, _ = key
    return f(h, _join_floats(arrays, static))


def _forward(q0, x_seq, arrays, key, emit_spikes: bool) -> tuple[Array, Array]:
    """``(h_{T-1}, s_seq)`` or ``(h_{T-1}, h_seq)``, one fused step each."""
    def step(carry, x_t):
        h = carry[0] + x_t
        q, s = _outputs(h, arrays, key)
        return (q, h), s if emit_spikes else h

    (_, h_last), ys = jax.lax.scan(step, (q0, q0), x_seq, unroll=key[2])
    return h_last, ys


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _scan(q0, x_seq, arrays, key):
    h_last, s_seq = _forward(q0, x_seq, arrays, key, emit_spikes=True)
    return s_seq, h_last


def _scan_fwd(q0, x_seq, arrays, key):
    h_last, h_seq = _forward(q0, x_seq, arrays, key, emit_spikes=False)
    return (_outputs(h_seq, arrays, key)[1], h_last), (h_seq, arrays)


def _scan_bwd(key, residuals, cotangents):
    h_seq, arrays = residuals
    s_bar, h_last_bar = cotangents
    last = h_seq.shape[0] - 1

    def step(carry, xs):
        lam_next, arrays_bar = carry
        h, s_bar_t, t = xs
        _, vjp = jax.vjp(lambda h_, a_: _outputs(h_, a_, key), h, arrays)
        h_bar, step_arrays_bar = vjp((lam_next, s_bar_t))
        lam = h_bar + jnp.where(t == last, h_last_bar, jnp.zeros_like(h_last_bar))
        return (lam, jax.tree.map(jnp.add, arrays_bar, step_arrays_bar)), lam

    carry = (jnp.zeros_like(h_last_bar), jax.tree.map(jnp.zeros_like, arrays))
    (lam0, arrays_bar), lam = jax.lax.scan(step, carry, (h_seq, s_bar, jnp.arange(last + 1)), reverse=True,
                                           unroll=key[2])
    return lam0, lam, arrays_bar


_scan.defvjp(_scan_fwd, _scan_bwd)
