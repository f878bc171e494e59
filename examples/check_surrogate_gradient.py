"""Checking a custom surrogate's gradient with chex, through ``snnjax.testing``.

Two checks a careful user makes before trusting a new surrogate, each one call of a helper built on
chex assertions (the tolerances are explained in ``snnjax/core/testing.py``):

1. ``testing.assert_custom_surrogate``: the spike function fires on ``u >= v_th``, and its backward
   pass, to ``u``, ``v_th`` and its parameter, is the derivative of its smooth primitive (finite
   differences in float64, ``chex.assert_numerical_grads``) and equals the derivative written by hand.
2. ``testing.assert_neuron_grad_matches_relaxation``: through a whole LIF scan (with reset), the
   surrogate gradient with respect to the inputs, the initial state and the leak equals finite
   differences of the neuron with every spike replaced by ``s* + F(z) - F(z*)``: the same forward
   pass at the point checked, smooth around it, whose exact derivative is the surrogate gradient.

    python examples/check_surrogate_gradient.py
"""

import json

import jax.numpy as jnp
import numpy as np

from snnjax import neurons, surrogate, testing


def soft_step(x, k):
    """A soft-sign step (surrogate.soft_sign with α = k): F'(x) = k / (2 (1 + k|x|)²)."""
    return 0.5 + 0.5 * x * k / (1 + jnp.abs(k * x))


def soft_step_derivative(x, k):
    return k / (2 * (1 + k * jnp.abs(x)) ** 2)


def main() -> dict:
    spike_fn = surrogate.from_primitive(soft_step, 10.0)
    testing.assert_custom_surrogate(spike_fn, derivative=soft_step_derivative)

    x_seq = np.random.default_rng(0).uniform(0.0, 1.0, (6, 3))  # [T, N]
    error = testing.assert_neuron_grad_matches_relaxation(
        lambda state, x_t, fn, decay: neurons.lif_step(state, x_t, decay=decay, v_th=0.5, spike_fn=fn),
        x_seq, neurons.lif_init_state((3,)), spike_fn, params=0.7)
    print("surrogate gradient: backward pass = derivative of the primitive; "
          "LIF gradient through time = finite differences of its smooth relaxation")
    return {"max_abs_error": error}


if __name__ == "__main__":
    print(json.dumps(main()))
