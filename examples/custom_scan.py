"""Using snnjax neurons inside your own ``jax.lax.scan``: a recurrent spiking layer written by hand.

The single-step functions ``(state, x_t) -> (state, s_t)`` compose with anything JAX offers. Here a
recurrent LIF layer feeds its own spikes back through a weight matrix, which a layer-wise (multi-step)
call cannot express; the whole thing is jitted and differentiated end to end.

    python examples/custom_scan.py
"""

import functools
import json

import jax
import jax.numpy as jnp

from snnjax import neurons, surrogate


def recurrent_lif(params, x_seq):
    """``x_seq: [T, B, N_in] -> spikes [T, B, N]`` with ``x_t = W_in x_t + W_rec s_{t-1}``."""
    step = functools.partial(neurons.lif_step, decay=0.8, v_th=1.0, spike_fn=surrogate.atan(2.0))

    def body(carry, x_t):
        state, s_prev = carry
        state, s = step(state, x_t @ params["w_in"] + s_prev @ params["w_rec"])
        return (state, s), s

    batch, width = x_seq.shape[1], params["w_rec"].shape[0]
    carry = (neurons.lif_init_state((batch, width)), jnp.zeros((batch, width)))
    _, spikes = jax.lax.scan(body, carry, x_seq)
    return spikes


def main() -> dict:
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(0), 4)
    params = {"w_in": jax.random.normal(k1, (20, 32)) * 0.5, "w_rec": jax.random.normal(k2, (32, 32)) * 0.1}
    x_seq = jax.random.uniform(k3, (50, 8, 20))  # [T, B, N_in]
    target_rate = jax.random.uniform(k4, (8, 32)) * 0.3

    @jax.jit
    def loss_fn(params):
        rates = recurrent_lif(params, x_seq).mean(axis=0)
        return jnp.mean(jnp.square(rates - target_rate))

    losses = []
    for _ in range(20):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        params = jax.tree.map(lambda p, g: p - 2.0 * g, params, grads)
        losses.append(float(loss))
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} after {len(losses)} gradient steps")
    return {"first_loss": losses[0], "last_loss": losses[-1]}


if __name__ == "__main__":
    print(json.dumps(main()))
