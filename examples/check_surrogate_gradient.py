"""Checking a custom surrogate's gradient with chex.

Two checks a careful user makes before trusting a new surrogate:
1. The spike function's backward pass equals the derivative of its smooth primitive (finite
   differences in float64).
2. Through a whole neuron scan, with the spike replaced by the primitive itself (so the network is
   smooth), autodiff equals finite differences: the scan's plumbing is right.

    python examples/check_surrogate_gradient.py
"""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np

from snnjax import neurons, surrogate


def fast_sigmoid(x, k):
    """Zenke & Ganguli's fast sigmoid as a step: g'(x) = k / (2 (1 + k|x|)²)."""
    return 0.5 + 0.5 * x * k / (1 + jnp.abs(k * x))


def main() -> dict:
    with jax.enable_x64(True):
        spike_fn = surrogate.from_primitive(fast_sigmoid, 10.0)
        x = jnp.linspace(-1.0, 1.0, 40, dtype=jnp.float64)  # avoids the kink of |x| at 0
        backward = jax.vmap(jax.grad(lambda u: spike_fn(u, 0.0)))(x)
        eps = 1e-6
        finite = (fast_sigmoid(x + eps, 10.0) - fast_sigmoid(x - eps, 10.0)) / (2 * eps)
        chex.assert_trees_all_close(backward, finite, rtol=1e-6, atol=1e-9)
        chex.assert_trees_all_close(backward, 10.0 / (2 * (1 + 10.0 * jnp.abs(x)) ** 2), rtol=1e-12)

        smooth = lambda u, v_th: fast_sigmoid(u - v_th, 10.0)
        x_seq = jax.random.uniform(jax.random.PRNGKey(0), (6, 3), jnp.float64)
        loss = lambda x_seq: jnp.sum(neurons.lif(x_seq, decay=0.7, v_th=0.5, spike_fn=smooth)[0])
        grad = jax.grad(loss)(x_seq)
        basis = np.eye(x_seq.size).reshape((x_seq.size,) + x_seq.shape)
        fd = np.array([(loss(x_seq + eps * b) - loss(x_seq - eps * b)) / (2 * eps) for b in basis]).reshape(x_seq.shape)
        chex.assert_trees_all_close(grad, fd, rtol=1e-5, atol=1e-8)
        chex.assert_shape(grad, (6, 3))
    print("surrogate gradient: backward pass = derivative of the primitive; scan gradient = finite differences")
    return {"max_abs_error": float(np.max(np.abs(np.asarray(grad) - fd)))}


if __name__ == "__main__":
    print(json.dumps(main()))
