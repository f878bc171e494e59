"""snnjax.core.scan.time_scan: a time loop rematerialised every k steps has the plain scan's values
and gradients, and stores less (issue 33 §2)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax.core.scan import time_scan


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
