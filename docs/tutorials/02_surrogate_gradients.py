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
# # 2. Surrogate gradients, BPSA and BPTA, and checking a gradient with chex
#
# A spike $s = H(u - v_\mathrm{th})$ has a zero derivative almost everywhere. A *surrogate* keeps
# that forward pass and uses, in the backward pass, the derivative $F'$ of a smooth step $F$ (its
# *primitive*). This tutorial compares the built-in surrogates, uses their parameters as arrays
# (sweep them with `vmap`, learn them with `grad`), turns on BPSA and BPTA (bpsa-bpta paper,
# Eq. 9 and 10), and checks a home-made surrogate with `snnjax.testing`, whose helpers are chex
# assertions your own tests can call.

# %%
import jax
import jax.numpy as jnp
import numpy as np

from snnjax import neurons, surrogate, testing

# %% [markdown]
# ## The built-in surrogates
#
# Each factory returns a *spike function* `spike_fn(u, v_th)`, a small pytree whose fields are its
# hyper-parameters. The forward pass is the same for all; the backward passes differ:

# %%
u = jnp.array([-1.0, -0.5, -0.1, 0.0, 0.1, 0.5, 1.0])
for name, spike_fn in {
    "sigmoid(4)": surrogate.sigmoid(alpha=4.0),
    "atan(2)": surrogate.atan(alpha=2.0),
    "boxcar(1)": surrogate.boxcar(width=1.0),
    "triangle(1)": surrogate.triangle(width=1.0),
    "fast_sigmoid(25)": surrogate.fast_sigmoid(slope=25.0),
    "straight_through": surrogate.straight_through(),
}.items():
    grad = jax.vmap(jax.grad(spike_fn))(u)
    print(f"{name:17s} H(u) = {np.asarray(spike_fn(u)).astype(int)}  dH/du = {np.round(np.asarray(grad), 3)}")

# %% [markdown]
# ## Parameters are arrays: `vmap` over them, `grad` through them
#
# A surrogate's sharpness is an ordinary argument, not a constant frozen into a jitted closure,
# so one `vmap` evaluates a whole sweep, and `jax.grad` reaches it:

# %%
x_seq = jax.random.uniform(jax.random.PRNGKey(0), (16, 8, 32))  # [T, B, N]


def grad_norm(alpha):
    loss = lambda x: neurons.lif(x, decay=0.7, spike_fn=surrogate.sigmoid(alpha))[0].mean()
    return jnp.linalg.norm(jax.grad(loss)(x_seq))


alphas = jnp.array([1.0, 2.0, 4.0, 8.0, 16.0])
print("input-gradient norm per alpha:", np.round(np.asarray(jax.vmap(grad_norm)(alphas)), 4))
print("d rate / d alpha at alpha=4:",
      float(jax.grad(lambda a: neurons.lif(x_seq, decay=0.7, spike_fn=surrogate.sigmoid(a))[0].mean())(4.0)))

# %% [markdown]
# Note the last number: the forward pass (the spikes) does not depend on $\alpha$, but the
# surrogate's backward pass does, so $\partial(\text{rate})/\partial\alpha$ is the surrogate's own
# $\partial F/\partial\alpha$, not the true (zero) derivative. Learn surrogate parameters only
# through a loss that the backward pass makes depend on them.
#
# ## BPSA: $\partial o / \partial u = 1/u$ at spikes
#
# The bpsa-bpta paper (Eq. 9) replaces the surrogate by a gradient that flows only through neurons
# that spiked, scaled by $1/u$:

# %%
bpsa = surrogate.bpsa()
u = jnp.array([0.5, 0.9, 1.0, 1.5, 3.0])
print("H(u - 1):", bpsa(u, 1.0))
print("dH/du   :", jax.vmap(jax.grad(bpsa), in_axes=(0, None))(u, 1.0), "(1/u where u >= 1, else 0)")

# %% [markdown]
# ## BPTA: a gradient path across spikes
#
# A hard reset cuts the membrane's dependence on its past at every spike. BPTA (Eq. 10) adds
# $\alpha\,(s_t - \mathrm{sg}(s_t))$ to the membrane after the reset: exactly zero in the forward
# pass, a path of weight $\lambda\alpha$ from $s_t$ into the next step in the backward pass.
# `bpta_alpha=0.8` is the paper's text (its code uses 0.2):

# %%
def first_input_grad(bpta_alpha):
    loss = lambda x: neurons.lif(x, decay=0.9, v_th=0.5, spike_fn=surrogate.bpsa(), bpta_alpha=bpta_alpha)[0].sum()
    return jax.grad(loss)(x_seq)


plain, with_bpta = first_input_grad(0.0), first_input_grad(0.8)
same_spikes = jnp.array_equal(neurons.lif(x_seq, decay=0.9, v_th=0.5, bpta_alpha=0.8)[0],
                              neurons.lif(x_seq, decay=0.9, v_th=0.5)[0])
print("same forward spikes:", bool(same_spikes))
print("gradient at t=0, mean |.|: BPSA", float(jnp.abs(plain[0]).mean()), "| BPSA + BPTA", float(jnp.abs(with_bpta[0]).mean()))

# %% [markdown]
# ## Your own surrogate, checked with chex
#
# `surrogate.from_primitive(F, *params)` makes a spike function from any smooth step $F$.
# `testing.assert_custom_surrogate` checks it end to end with chex assertions in float64: $F$ is
# smooth where it is evaluated (`chex.assert_numerical_grads`), the forward pass is $H$, the
# backward pass to $u$, $v_\mathrm{th}$ and the parameters is the derivative of $F$ by finite
# differences, and it equals the derivative you wrote by hand. Here a soft-sign step
# $F(x) = \tfrac12 + \tfrac12\,\frac{kx}{1 + |kx|}$:

# %%
def soft_step(x, k):
    return 0.5 + 0.5 * x * k / (1 + jnp.abs(k * x))


def soft_step_derivative(x, k):
    return k / (2 * (1 + k * jnp.abs(x)) ** 2)


spike_fn = surrogate.from_primitive(soft_step, 10.0)
testing.assert_custom_surrogate(spike_fn, derivative=soft_step_derivative)
print("custom surrogate: forward H, backward F' (finite differences and by hand): OK")

# %% [markdown]
# A wrong hand-written derivative is caught, with chex's message:

# %%
try:
    testing.assert_custom_surrogate(spike_fn, derivative=lambda x, k: k / (1 + k * jnp.abs(x)) ** 2)
except AssertionError as error:
    print("caught:", str(error).splitlines()[0][:120])

# %% [markdown]
# `testing.assert_neuron_grad_matches_relaxation` goes further: through a whole LIF scan with
# resets, the surrogate gradient with respect to the inputs, the initial state and the leak equals
# finite differences of the neuron with every spike replaced by its smooth relaxation
# $s^*_t + F(z_t) - F(z^*_t)$ (same forward pass at the point checked, smooth around it):

# %%
x_small = np.random.default_rng(0).uniform(0.0, 1.0, (6, 3))  # [T, N], small: 2 forward passes per coordinate
error = testing.assert_neuron_grad_matches_relaxation(
    lambda state, x_t, fn, decay: neurons.lif_step(state, x_t, decay=decay, v_th=0.5, spike_fn=fn),
    x_small, neurons.lif_init_state((3,)), spike_fn, params=0.7)
print(f"LIF gradient through time = finite differences of its relaxation (max abs error {error:.2e})")

# %% [markdown]
# BPTA and `detach_reset=True` fail this check by design: their gradients are no function's
# derivative. `tests/core/test_neurons_gradients.py` checks them against hand-derived formulas instead.
