"""snnjax.core.scan: a time loop rematerialised every k steps (time_scan), or any sequence function
rematerialised chunk by chunk (remat_chunks), has the plain values and gradients, and stores less
(issue 33 §2, issue 37 §3)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax.core.scan import remat_chunks, time_scan


def _step(carry, x_t):
    """A leaky, nonlinear step with a carry of two arrays and an output."""
    u, total = carry
    u = 0.7 * u + jnp.tanh(x_t @ jnp.ones((3, 3), x_t.dtype) * 0.3 + u)
    return (u, total + u**2), jnp.sin(u)


@pytest.mark.parametrize("remat", [1, 2, 4, 5, 13])  # 12 steps: k divides T, k does not, k > T
def test_time_scan_gives_the_plain_scans_values_and_gradients(remat):
    with jax.enable_x64(True):
        xs = jax.random.normal(jax.random.key(0), (12, 2, 3), jnp.float64)
        carry = (jnp.full((2, 3), 0.1, jnp.float64), jnp.zeros((2, 3), jnp.float64))

        def loss(carry, xs, remat):
            (u, total), ys = time_scan(_step, carry, xs, remat=remat)
            weights = jnp.arange(ys.size, dtype=ys.dtype).reshape(ys.shape) / ys.size
            return jnp.sum(ys * weights) + jnp.sum(u) + 0.1 * jnp.sum(total)

        value, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)), static_argnums=2)(carry, xs, 0)
        value_r, grads_r = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)), static_argnums=2)(carry, xs, remat)
        np.testing.assert_allclose(value_r, value, rtol=1e-12, atol=0)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12), grads_r, grads)
        assert float(jnp.abs(grads[1]).sum()) > 0


def test_time_scan_every_k_steps_stores_less_than_the_plain_scan():
    xs = jnp.ones((256, 64, 64))
    carry = jnp.zeros((64, 64))

    def temp_bytes(remat):
        def loss(xs):
            def body(c, x_t):
                c = jnp.tanh(c @ x_t + x_t)
                return c, c.sum()
            c, ys = time_scan(body, carry, xs, remat=remat)
            return c.sum() + ys.sum()
        return jax.jit(jax.grad(loss)).lower(xs).compile().memory_analysis().temp_size_in_bytes

    plain, every_16 = temp_bytes(0), temp_bytes(16)
    assert every_16 * 4 < plain, (plain, every_16)


def test_time_scan_refuses_a_negative_remat():
    with pytest.raises(ValueError, match="remat must be 0"):
        time_scan(_step, (jnp.zeros((1, 3)), jnp.zeros((1, 3))), jnp.zeros((2, 1, 3)), remat=-1)


def _layered(carry, xs):
    """A two-layer net written layer by layer over a whole chunk: each layer a matrix product on all
    ``t·B`` rows, then its own scan carrying that layer's state (what :func:`remat_chunks` runs)."""
    w = jnp.linspace(-0.5, 0.5, 9, dtype=xs.dtype).reshape(3, 3)
    states = []
    h = xs
    for layer, state in enumerate(carry):
        current = jnp.tanh(h @ (w + layer))
        state, h = jax.lax.scan(lambda u, c: (0.8 * u + c, jnp.sin(0.8 * u + c)), state, current)
        states.append(state)
    return tuple(states), h


@pytest.mark.parametrize("chunk", [1, 3, 5, 12, 20])  # 12 steps: divides, does not, all, more than T
def test_remat_chunks_gives_the_unchunked_values_and_gradients(chunk):
    with jax.enable_x64(True):
        xs = jax.random.normal(jax.random.key(1), (12, 2, 3), jnp.float64)
        carry = (jnp.full((2, 3), 0.2, jnp.float64), jnp.zeros((2, 3), jnp.float64))

        def loss(carry, xs, chunk):
            final, ys = remat_chunks(_layered, carry, xs, chunk=chunk) if chunk else _layered(carry, xs)
            weights = jnp.arange(ys.size, dtype=ys.dtype).reshape(ys.shape) / ys.size
            return jnp.sum(ys * weights) + jnp.sum(final[0]) - jnp.sum(final[1] ** 2)

        grad = jax.value_and_grad(loss, argnums=(0, 1))
        value, grads = jax.jit(grad, static_argnums=2)(carry, xs, 0)
        value_c, grads_c = jax.jit(grad, static_argnums=2)(carry, xs, chunk)
        np.testing.assert_allclose(value_c, value, rtol=1e-12, atol=0)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12), grads_c, grads)
        assert float(jnp.abs(grads[1]).sum()) > 0


def test_remat_chunks_keeps_one_chunks_activations_not_all():
    xs = jnp.ones((256, 64, 3))
    carry = (jnp.zeros((64, 3)), jnp.zeros((64, 3)))

    def temp_bytes(chunk):
        def loss(xs):
            final, ys = remat_chunks(_layered, carry, xs, chunk=chunk) if chunk else _layered(carry, xs)
            return ys.sum() + final[1].sum()
        return jax.jit(jax.grad(loss)).lower(xs).compile().memory_analysis().temp_size_in_bytes

    whole, every_16 = temp_bytes(0), temp_bytes(16)
    assert every_16 * 4 < whole, (whole, every_16)


def test_remat_chunks_refuses_a_chunk_below_one():
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        remat_chunks(_layered, (jnp.zeros((1, 3)), jnp.zeros((1, 3))), jnp.zeros((2, 1, 3)), chunk=0)
