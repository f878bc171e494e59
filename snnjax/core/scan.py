"""A time loop whose backward pass stores every k-th carry instead of every step (rematerialisation).

``jax.lax.scan(body, carry, xs)`` under ``jax.grad`` keeps, for the backward pass, every residual
the body's linearisation needs at every step: memory ``O(T · r)`` for ``r`` bytes of residuals per
step (a spiking net's currents, membranes, spikes and surrogate derivatives, per layer).
:func:`time_scan` trades that memory for recomputation (Griewank & Walther's checkpointing; JAX's
``jax.checkpoint``, Chen et al. 2016, "Training deep nets with sublinear memory cost"):

- ``remat=0``: the plain scan. Stores ``T · r``.
- ``remat=1``: ``jax.checkpoint`` of the step body. The scan stores only each step's inputs (the
  carry and ``xs[t]``, ``c`` bytes of carry) and the backward pass recomputes the body's forward at
  every step: ``T · c`` stored, one extra forward pass.
- ``remat=k > 1``: a nested scan, outer over ``⌈T / k⌉`` chunks, inner over the ``k`` steps of a chunk
  under ``jax.checkpoint`` (:func:`remat_chunks` of the chunk's scan). The outer scan stores the
  carry at chunk starts only; the backward pass recomputes one chunk at a time (its ``k`` steps'
  residuals live only while that chunk is differentiated): ``(T / k) · c + k · r`` stored, one
  extra forward pass. ``k ≈ √(T · r / c)`` minimises it (``k ≈ 28`` for T = 784 when ``r ≈ c``). A
  ``T`` not divisible by ``k`` ends with one shorter chunk.

:func:`remat_chunks` does the same for any sequence function that carries its state (a net written
layer by layer, each layer on a whole chunk at once), not only for a per-step body.

Values and gradients are those of the plain scan (the same operations, recomputed; tested in
float64 to 1e-12, ``tests/nn/test_remat.py``). ``xs`` and the stacked outputs are ``[T, ...]``
(time-major), as everywhere in snnjax.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

PyTree = Any


def time_scan(body: Callable[[PyTree, PyTree], tuple[PyTree, PyTree]], carry: PyTree, xs: PyTree, *,
              unroll: int = 1, remat: int = 0) -> tuple[PyTree, PyTree]:
    """``jax.lax.scan(body, carry, xs, unroll=unroll)``, rematerialised every ``remat`` steps.

    Args:
        body: one step, ``(carry, x_t) -> (carry, y_t)``.
        carry: the initial carry.
        xs: the inputs, each leaf ``[T, ...]`` (``T >= 1``).
        unroll: steps per loop iteration of the (inner) scan.
        remat: 0 stores every step's residuals; 1 checkpoints every step body; ``k > 1`` checkpoints
            chunks of ``k`` steps (module docstring for what each stores and recomputes).

    Returns:
        ``(final carry, ys)`` with each leaf of ``ys`` ``[T, ...]``, as ``jax.lax.scan``.
    """
    remat = int(remat)
    if remat < 0:
        raise ValueError(f"remat must be 0 (off), 1 (every step) or k > 1 (every k steps), got {remat}")
    if remat == 0:
        return jax.lax.scan(body, carry, xs, unroll=unroll)
    if remat == 1:
        # prevent_cse=False: inside a scan the body cannot be CSE'd with the recomputation (JAX docs).
        return jax.lax.scan(jax.checkpoint(body, prevent_cse=False), carry, xs, unroll=unroll)

    def scan_chunk(carry: PyTree, xs_chunk: PyTree) -> tuple[PyTree, PyTree]:
        return jax.lax.scan(body, carry, xs_chunk, unroll=min(unroll, _steps(xs_chunk)))

    return remat_chunks(scan_chunk, carry, xs, chunk=remat)


def remat_chunks(run: Callable[[PyTree, PyTree], tuple[PyTree, PyTree]], carry: PyTree, xs: PyTree, *,
                 chunk: int) -> tuple[PyTree, PyTree]:
    """``run(carry, xs)`` computed ``chunk`` steps at a time, each chunk rematerialised.

    ``run`` is any sequence function that carries its state, ``(carry, xs [t, ...]) -> (carry,
    ys [t, ...])``: a whole net written layer by layer (each layer's matrix product on all ``t·B``
    rows of the chunk at once, each neuron layer one ``neurons.<kind>(..., state=...)`` call), or one
    step's ``lax.scan``. The outer loop is a ``lax.scan`` over the ``⌈T / chunk⌉`` chunks of
    ``jax.checkpoint(run)``; the backward pass stores the carry at each chunk's start and
    recomputes one chunk at a time, so the ``[t, ...]`` activations inside ``run`` live for one chunk
    only: ``(T / chunk) · c + chunk · r`` stored for ``c`` bytes of carry and ``r`` of residuals per
    step (:func:`time_scan`). ``chunk ≈ √T`` is the usual choice. A ``T`` not divisible by ``chunk``
    ends with one shorter chunk (``run`` traced twice, for the two lengths).

    Same values and gradients as ``run(carry, xs)`` when ``run`` is causal and its state is all in
    ``carry`` (tested in float64, ``tests/core/test_scan.py``).

    Args:
        run: ``(carry, xs_chunk) -> (carry, ys_chunk)``, every leaf of ``xs_chunk`` and ``ys_chunk``
            time-major with the chunk's length first.
        carry: the initial carry.
        xs: the inputs, each leaf ``[T, ...]`` (``T >= 1``).
        chunk: steps per chunk, ``>= 1``.

    Returns:
        ``(final carry, ys)`` with each leaf of ``ys`` ``[T, ...]``.
    """
    chunk = int(chunk)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1 steps, got {chunk}")
    steps = _steps(xs)
    chunks, rest = divmod(steps, chunk)
    run_chunk = jax.checkpoint(run)
    ys_parts = []
    if chunks:
        head = jax.tree.map(lambda x: x[: chunks * chunk].reshape((chunks, chunk) + x.shape[1:]), xs)
        carry, ys = jax.lax.scan(run_chunk, carry, head)
        ys_parts.append(jax.tree.map(lambda y: y.reshape((chunks * chunk,) + y.shape[2:]), ys))
    if rest:
        carry, ys = run_chunk(carry, jax.tree.map(lambda x: x[chunks * chunk:], xs))
        ys_parts.append(ys)
    if len(ys_parts) == 1:
        return carry, ys_parts[0]
    return carry, jax.tree.map(lambda a, b: jnp.concatenate([a, b]), *ys_parts)


def _steps(xs: PyTree) -> int:
    """The number of steps in ``xs`` (the leading axis of its leaves)."""
    return jax.tree.leaves(xs)[0].shape[0]
