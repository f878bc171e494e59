# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Spiking neurons as pure JAX functions
#
# In snnjax a neuron is a function, not an object with hidden state. This tutorial runs a leaky
# integrate-and-fire (LIF) neuron over a sequence, differentiates through it with a surrogate
# gradient, batches it with `vmap`, and writes the time loop by hand with `jax.lax.scan` and the
# single-step function `lif_step`.
#
# One LIF step (llc-lif paper §3.1, bpsa-bpta paper Eq. 1–3; {doc}`../api/neurons`), with $v$ the
# membrane after reset, $k$ the leak and $H$ the Heaviside step:
#
# $$h_t = k\,v_{t-1} + x_t, \qquad s_t = H(h_t - v_\mathrm{th}), \qquad v_t = h_t\,(1 - s_t).$$
#
# A spike is $h_t \ge v_\mathrm{th}$ (SpikingJelly's convention). Shapes are time-major:
# `[T, B, N]`, time first.

# %%
import functools

import jax
import jax.numpy as jnp

from snnjax import neurons, surrogate

T, B, N = 8, 4, 16
x_seq = jax.random.uniform(jax.random.PRNGKey(0), (T, B, N), minval=0.0, maxval=1.0)  # [T, B, N]

# %% [markdown]
# ## Run a neuron over a sequence
#
# `neurons.lif` scans the step over the leading axis and returns the spikes and the final state.

# %%
s_seq, state = neurons.lif(x_seq, decay=0.5, v_th=1.0)
print("spikes", s_seq.shape, s_seq.dtype, "firing rate", float(s_seq.mean()))
print("final state", type(state).__name__, state.v.shape)

# %% [markdown]
# The state is an ordinary value. Passing it back in continues the sequence exactly where it
# stopped, so running two halves gives what one call over the whole sequence gives: this is how
# streaming and chunked inference work, and there is no `reset_net` (pass `state=None`, the default).

# %%
first, mid_state = neurons.lif(x_seq[: T // 2], decay=0.5)
second, _ = neurons.lif(x_seq[T // 2 :], decay=0.5, state=mid_state)
assert jnp.array_equal(jnp.concatenate([first, second]), s_seq)
print("two halves == one call:", True)

# %% [markdown]
# ## A surrogate gradient
#
# The forward pass is a step function, whose derivative is zero almost everywhere. A *spike function*
# keeps the Heaviside forward and replaces its derivative in the backward pass (a `jax.custom_vjp`).
# `surrogate.sigmoid(alpha)` uses the derivative of $\sigma(\alpha x)$ ({doc}`../api/surrogate`):

# %%
spike_fn = surrogate.sigmoid(alpha=4.0)
u = jnp.linspace(-1.0, 1.0, 5)
print("forward  H(u):", spike_fn(u))
print("backward dH/du:", jax.vmap(jax.grad(spike_fn))(u))

# %% [markdown]
# With it, `jax.grad` goes through the whole neuron, resets included:

# %%
def spike_count(x_seq, decay):
    s_seq, _ = neurons.lif(x_seq, decay=decay, v_th=1.0, spike_fn=spike_fn)
    return s_seq.sum()


grad_x, grad_decay = jax.grad(spike_count, argnums=(0, 1))(x_seq, 0.5)
print("d count / d x:", grad_x.shape, "non-zero:", int((grad_x != 0).sum()))
print("d count / d decay:", float(grad_decay))

# %% [markdown]
# ## `vmap`: one neuron, many leaks
#
# The leak and the surrogate's parameters are array arguments, so `vmap` sweeps them like any
# other input. Here the firing rate of the same input for five leaks at once:

# %%
decays = jnp.linspace(0.1, 0.9, 5)
rate = jax.vmap(lambda k: neurons.lif(x_seq, decay=k)[0].mean())(decays)
for k, r in zip(decays, rate):
    print(f"decay {float(k):.1f}: rate {float(r):.3f}")

# %% [markdown]
# ## Your own `lax.scan` with `lif_step`
#
# `neurons.lif_step(state, x_t) -> (state, s_t)` is one step; `jax.lax.scan` over it is exactly what
# `neurons.lif` does.

# %%
step = functools.partial(neurons.lif_step, decay=0.5, v_th=1.0, spike_fn=spike_fn)
final, s_scan = jax.lax.scan(step, neurons.lif_init_state((B, N)), x_seq)
assert jnp.array_equal(s_scan, neurons.lif(x_seq, decay=0.5, spike_fn=spike_fn)[0])
print("lax.scan(lif_step) == lif:", True)

# %% [markdown]
# Writing the loop yourself lets you do what a layer-wise call cannot: feed the spikes back. A
# recurrent LIF layer, $x_t \leftarrow W_\mathrm{in} x_t + W_\mathrm{rec} s_{t-1}$, jitted and
# differentiated end to end (the full version trains it: `examples/custom_scan.py`):

# %%
k_in, k_rec = jax.random.split(jax.random.PRNGKey(1))
params = {"w_in": jax.random.normal(k_in, (N, 32)) * 0.5, "w_rec": jax.random.normal(k_rec, (32, 32)) * 0.1}


@jax.jit
def recurrent_rate(params, x_seq):
    def body(carry, x_t):
        state, s_prev = carry
        state, s = step(state, x_t @ params["w_in"] + s_prev @ params["w_rec"])
        return (state, s), s

    carry = (neurons.lif_init_state((x_seq.shape[1], 32)), jnp.zeros((x_seq.shape[1], 32)))
    _, s_seq = jax.lax.scan(body, carry, x_seq)
    return s_seq.mean()


rate, grads = jax.value_and_grad(recurrent_rate)(params, x_seq)
print("recurrent rate", float(rate), "| grad norms:", {k: float(jnp.linalg.norm(g)) for k, g in grads.items()})

# %% [markdown]
# ## Other neurons
#
# Every neuron has the same two forms and the same keyword arguments (`v_th`, `spike_fn`, `state`,
# `reset`, `detach_reset`); LLC-LIF learns its leak through $k = \sigma(a)$:

# %%
for name, (s, _) in {
    "lif": neurons.lif(x_seq, decay=0.5),
    "llc_lif": neurons.llc_lif(x_seq, jnp.float32(0.0)),
    "if_neuron": neurons.if_neuron(x_seq),
    "leaky (snnTorch)": neurons.leaky(x_seq, decay=0.5),
    "alif": neurons.alif(x_seq, decay=0.5),
}.items():
    print(f"{name:18s} rate {float(s.mean()):.3f}")
