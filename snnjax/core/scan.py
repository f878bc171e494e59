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
  under ``jax.checkpoint``. The outer scan stores the carry at chunk starts only; the backward
  pass recomputes one chunk at a time (its ``k`` steps' residuals live only while that chunk is
  differentiated): ``(T / k) · c + k · r`` stored, one extra forward pass. ``k ≈ √(T · r / c)``
  minimises it (``k ≈ 28`` for T = 784 when ``r ≈ c``). A ``T`` not divisible by ``k`` ends with one
  shorter chunk.

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
    steps = _steps(xs)
    chunks, rest = divmod(steps, remat)

    @jax.checkpoint
    def chunk(carry: PyTree, xs_chunk: PyTree) -> tuple[PyTree, PyTree]:
        return jax.lax.scan(body, carry, xs_chunk, unroll=min(unroll, _steps(xs_chunk)))

    ys_parts = []
    if chunks:
        head = jax.tree.map(lambda x: x[: chunks * remat].reshape((chunks, remat) + x.shape[1:]), xs)
        carry, ys = jax.lax.scan(chunk, carry, head)
        ys_parts.append(jax.tree.map(lambda y: y.reshape((chunks * remat,) + y.shape[2:]), ys))
    if rest:
        carry, ys = chunk(carry, jax.tree.map(lambda x: x[chunks * remat:], xs))
        ys_parts.append(ys)
    if len(ys_parts) == 1:
        return carry, ys_parts[0]
    return carry, jax.tree.map(lambda a, b: jnp.concatenate([a, b]), *ys_parts)


def _steps(xs: PyTree) -> int:
    """The number of steps in ``xs`` (the leading axis of its leaves)."""
    return jax.tree.leaves(xs)[0].shape[0]
