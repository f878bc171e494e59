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
# # 5. Sequences: Seq-MNIST with CE-LIF, and streaming inference with carried state
#
# Sequential MNIST feeds an image one pixel per step, 784 steps, and asks for the digit at the end:
# a test of memory. The CE-LIF neuron (CE-LIF paper, Eq. 4) gives LIF an adaptive threshold driven
# by a learned *temporal embedding* $\mathrm{TE}[t]$:
#
# $$u[t] = \alpha\,u[t-1]\,(1 - s[t-1]) + x[t], \qquad
# \theta[t] = \rho\,\theta[t-1] + (1 - \rho)\,\theta_0 + u[t-1] \odot \mathrm{TE}[t], \qquad
# s[t] = H(u[t] - \theta[t]).$$
#
# This tutorial builds the paper's net from its config (smaller), trains it for a few steps with the
# library API, and feeds a sequence in chunks with the state carried between them. Training towards
# the paper's 98 % takes many epochs of full MNIST: `python train.py --config configs/ce_lif_seq_mnist.py:88
# --workdir runs/ce_lif_88 --config.data.data_dir=/path/to/mnist` ({doc}`../papers`; the runs made so far
# are in {doc}`../results`).

# %%
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from snnjax import data, encoders, losses, models
from snnjax.configs import ce_lif_seq_mnist

STEPS, BATCH = 15, 32

# %% [markdown]
# ## Pixels as a sequence
#
# The model's `pixel` encoder turns batch-major images `[B, 28, 28, 1]` into a time-major sequence
# `[784, B, 1]` (`permuted_pixel` gives PS-MNIST):

# %%
dataset = data.load(data.default_data_config())  # the MNIST subset shipped with snnjax
x, y = dataset.train.get(np.arange(BATCH))
print("images", x.shape, "-> sequence", encoders.pixel(jnp.asarray(x)).shape)

# %% [markdown]
# ## The CE-LIF net from its config
#
# `configs/ce_lif_seq_mnist.py` holds every choice of the paper's Seq-MNIST experiment (boxcar
# surrogate, $\alpha = 0.5$, $\rho = 0.99$, $\theta_0 = 0.3$, a time-averaged linear readout, the
# cross-entropy). We keep all of it but the width, [64, 152, 152] → [16, 32]:

# %%
config = ce_lif_seq_mnist.get_config("88")
with config.unlocked():
    config.model.hidden = (16, 32)
model = models.build_model(config.model, dataset.num_classes)
variables = model.init(jax.random.PRNGKey(0), jnp.asarray(x), train=False)
params = variables["params"]
print({k: v for k, v in config.model.neuron.items() if k in ("kind", "decay", "v_th", "rho", "surrogate")})
print("parameters:", sum(p.size for p in jax.tree.leaves(params)),
      "| TE:", params["te"].shape if "te" in params else "per layer")

# %% [markdown]
# ## A few training steps
#
# Backpropagation through all 784 steps, with Adam at the paper's learning rate. (On a CPU each step
# of this small net takes a fraction of a second; the first one compiles.)

# %%
tx = optax.adam(config.optim.learning_rate)
opt_state = tx.init(params)


@jax.jit
def train_step(params, opt_state, x, y):
    def loss_fn(params):
        out = model.apply({"params": params}, x, train=True)
        return losses.cross_entropy(out.out, y)

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss


start, history = time.perf_counter(), []
for step in range(STEPS):
    xb, yb = dataset.train.get(np.arange(step * BATCH, (step + 1) * BATCH))
    params, opt_state, loss = train_step(params, opt_state, jnp.asarray(xb), jnp.asarray(yb))
    history.append(float(loss))
print(f"loss {history[0]:.3f} -> {history[-1]:.3f} in {STEPS} steps ({time.perf_counter() - start:.0f} s, compilation included)")

# %% [markdown]
# ## Streaming: chunks with the state carried
#
# A sequence model takes a state in and returns it (`state=`, `return_state=True`), so a long
# sequence can be fed in chunks (streaming input, truncated BPTT, a closed loop) and gives exactly
# what one call gives. `encoded=True` says the input is already the encoder's sequence:

# %%
variables = {"params": params}
x_test, _ = dataset.test.get(np.arange(4))
one_call = model.apply(variables, jnp.asarray(x_test), train=False).out  # [784, B, 10]

h = encoders.pixel(jnp.asarray(x_test))  # [784, B, 1]
run_chunk = jax.jit(lambda h, state: model.apply(variables, h, train=False, encoded=True, state=state, return_state=True))
outs, state = [], None
for begin in range(0, h.shape[0], 196):
    out, state = run_chunk(h[begin:begin + 196], state)
    outs.append(out.out)
chunked = jnp.concatenate(outs)
print(f"{len(outs)} chunks of 196 steps; state after them at t = {int(state.t)}")
print("max |chunked - one call|:", float(jnp.abs(chunked - one_call).max()))
assert jnp.allclose(chunked, one_call, atol=1e-6)

# %% [markdown]
# The state holds every layer's neuron state and the step count `t`, which CE-LIF needs: its
# temporal embedding is indexed by the absolute step, so a chunk starting at step 196 reads
# $\mathrm{TE}[196{:}392]$. `examples/chunked_inference.py` also runs the net one step at a time
# (`model.clone(scan="step")`), as a streaming device would.
