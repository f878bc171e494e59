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
# # 3. Training a spiking MLP and a conv net with the library API
#
# snnTorch's tutorial 5 task in snnjax: MNIST digits, rate coded into spike trains, classified by a
# spiking MLP, then by a small spiking conv net. Data, models, losses and the optimiser come from
# the library; the training loop is a dozen lines of plain JAX that you own. (`train.py` runs the
# same thing from a config, with checkpoints and resume: {doc}`04_train_py`.)
#
# The sizes here are small so that the tutorial runs in about a minute on a laptop CPU (the test
# suite runs it). Raise `NUM_TRAIN` and `EPOCHS` for real numbers.

# %%
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from snnjax import data, encoders, losses, models

NUM_TRAIN = 1280  # of the 5,000 training images shipped with snnjax
NUM_TEST = 500
EPOCHS = 1
BATCH = 64
T = 8  # time steps

# %% [markdown]
# ## Data: the MNIST subset shipped with snnjax
#
# `data.load(config)` returns a `Dataset` with `train`, `test` and (optionally) `validation` splits;
# the default config names `mnist_small`, 5,000 + 1,000 images in the package itself, no download.
# Splits give batch-major NumPy arrays: `x: [B, 28, 28, 1]` in $[0, 1]$, `y: [B]`.

# %%
dataset = data.load(data.default_data_config())
x, y = dataset.train.get(np.arange(8))
print(dataset.name, "train", dataset.train.num_examples, "test", dataset.test.num_examples, "| x", x.shape, x.dtype, "y", y[:8])

# %% [markdown]
# ## Rate coding
#
# Each pixel becomes a Bernoulli spike train with probability equal to its intensity, drawn per
# step with an explicit PRNG key. The result is time-major, `[T, B, ...]`:

# %%
spikes = encoders.rate(jnp.asarray(x), T, jax.random.PRNGKey(0))
print("spikes", spikes.shape, "| mean rate", float(spikes.mean()), "= mean intensity", float(x.mean()))

# %% [markdown]
# ## A spiking MLP
#
# `models.build_model(cfg, num_classes)` builds a net from a spec string, as the papers write them
# ({doc}`../api/models`). `"500-100-10"`: a spiking dense layer of 500 LIF neurons, then 100
# neurons read out by voting in groups of 10 (the llc-lif paper's notation). With
# `encoder = "rate"` the model draws the spikes itself, from the `encoder` random stream.

# %%
def mlp_config():
    cfg = models.default_model_config()
    cfg.spec, cfg.time_steps, cfg.encoder = "500-100-10", T, "rate"
    cfg.neuron.kind, cfg.neuron.decay = "lif", 0.5
    return cfg


def train(cfg, name):
    """Trains ``models.build_model(cfg)`` with Adam on the MSE between firing rates and one-hot labels."""
    model = models.build_model(cfg, dataset.num_classes)
    x0, _ = dataset.train.get(np.arange(BATCH))
    rngs = {"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1), "encoder": jax.random.PRNGKey(2)}
    variables = model.init(rngs, jnp.asarray(x0), train=False)
    params, batch_stats = variables["params"], variables.get("batch_stats", {})
    tx = optax.adam(1e-3)
    opt_state = tx.init(params)
    print(name, "parameters:", sum(p.size for p in jax.tree.leaves(params)))

    @jax.jit
    def train_step(params, batch_stats, opt_state, x, y, key):
        def loss_fn(params):
            k_drop, k_enc = jax.random.split(key)
            out, state = model.apply({"params": params, "batch_stats": batch_stats}, x, train=True,
                                     rngs={"dropout": k_drop, "encoder": k_enc},
                                     mutable=["batch_stats", "spikes", "synops"])
            return losses.mse_rate(out.out, y), state.get("batch_stats", {})

        (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), batch_stats, opt_state, loss

    @jax.jit
    def predict(params, batch_stats, x, key):
        out = model.apply({"params": params, "batch_stats": batch_stats}, x, train=False, rngs={"encoder": key})
        return out.prediction().argmax(-1)

    key = jax.random.PRNGKey(3)
    start = time.perf_counter()
    for epoch in range(EPOCHS):
        order = np.random.default_rng(epoch).permutation(NUM_TRAIN)
        bar = tqdm(range(NUM_TRAIN // BATCH), desc=f"{name} epoch {epoch + 1}", mininterval=2.0)
        for i in bar:
            if epoch == 0 and i == 0:
                bar.write(f"{name}: compiling the train step (the first step; the rest reuse it)...")
            xb, yb = dataset.train.get(order[i * BATCH:(i + 1) * BATCH])
            key, sub = jax.random.split(key)
            params, batch_stats, opt_state, loss = train_step(params, batch_stats, opt_state, jnp.asarray(xb), jnp.asarray(yb), sub)
            if i % 5 == 0:
                bar.set_postfix(loss=f"{float(loss):.4f}")
    x_test, y_test = dataset.test.get(np.arange(NUM_TEST))
    accuracy = float(np.mean(np.asarray(predict(params, batch_stats, jnp.asarray(x_test), key)) == y_test))
    print(f"{name}: test accuracy {accuracy:.3f} on {NUM_TEST} images after {EPOCHS} epoch(s) of {NUM_TRAIN} "
          f"({time.perf_counter() - start:.0f} s, compilation included)")
    return model, params, batch_stats, accuracy


mlp, mlp_params, mlp_stats, mlp_accuracy = train(mlp_config(), "MLP")

# %% [markdown]
# The first step compiles the whole train step (forward over all `T` steps, surrogate backward pass,
# Adam update) into one XLA program; later steps reuse it. Chance is 10 %.
#
# ## A spiking conv net
#
# The same loop trains a conv net: `"8c3-p2-16c3-p2-100-10"` is two 3×3 conv blocks (convolution,
# BatchNorm, LIF) with 2×2 max pooling, then the voting readout. The T time steps are merged into the
# batch for each convolution (one big convolution over `T·B` images), so a conv net over time costs
# about as much as T convolutions of a normal CNN.

# %%
def conv_config():
    cfg = mlp_config()
    cfg.spec = "8c3-p2-16c3-p2-100-10"
    return cfg


conv, conv_params, conv_stats, conv_accuracy = train(conv_config(), "conv net")

# %% [markdown]
# ## Looking inside: spikes per layer
#
# `snnjax.monitor.record` runs the model once and returns every spiking layer's spikes (and, per
# step, its state), as SpikingJelly's monitors and snnTorch's probes do:

# %%
from snnjax import monitor

x_few, _ = dataset.test.get(np.arange(16))
records = monitor.record(conv, {"params": conv_params, "batch_stats": conv_stats}, jnp.asarray(x_few),
                         train=False, rngs={"encoder": jax.random.PRNGKey(4)})
for layer, record in records.items():
    print(f"{layer:28s} spikes {tuple(record.spikes.shape)}  firing rate {float(record.spikes.mean()):.3f}")
