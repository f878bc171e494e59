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
# # 6. Neuromorphic data through tonic: SHD
#
# Event data (DVS cameras, silicon cochleas) come as lists of events, not arrays. snnjax reads them
# through [tonic](https://tonic.readthedocs.io) (`pip install snnjax[neuromorphic]`) and bins them
# into time-major frames for the model: N-MNIST, DVS-Gesture, CIFAR10-DVS and the Spiking Heidelberg
# Digits (SHD, Cramer et al. 2020: spoken digits as spikes on 700 channels). Nothing is downloaded:
# `data.data_dir` points at files you already have.
#
# So that this tutorial runs anywhere, it first writes a few *made-up* recordings in SHD's own HDF5
# format (the layout tonic reads); with the real files, skip that step and point `data_dir` at them.

# %%
import pathlib
import tempfile

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import optax

from snnjax import data, losses, models
from snnjax.configs import shd

# %% [markdown]
# ## Files in SHD's format
#
# `SHD/shd_train.h5` and `SHD/shd_test.h5`: per recording, spike times (seconds) and channel
# indices (0–699), and a label (20 digits).

# %%
def write_shd(root: pathlib.Path, recordings_per_split: int = 16, seed: int = 0) -> None:
    """Random spike trains in SHD's HDF5 layout: each digit excites its own band of channels."""
    rng = np.random.default_rng(seed)
    (root / "SHD").mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        labels = rng.integers(0, 20, recordings_per_split)
        with h5py.File(root / "SHD" / f"shd_{split}.h5", "w") as f:
            times = f.create_dataset("spikes/times", (len(labels),), dtype=h5py.vlen_dtype(np.float32))
            units = f.create_dataset("spikes/units", (len(labels),), dtype=h5py.vlen_dtype(np.uint16))
            for i, label in enumerate(labels):
                n = 400
                times[i] = np.sort(rng.uniform(0.0, 1.0, n)).astype(np.float32)
                units[i] = (label * 35 + rng.integers(0, 35, n)).astype(np.uint16)
            f["labels"] = labels.astype(np.uint16)
            f["extra/keys"] = np.asarray([b"digit"] * 20)
            f["extra/speaker"] = np.zeros(len(labels), np.uint16)


data_dir = pathlib.Path(tempfile.mkdtemp())
write_shd(data_dir)
print(sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*.h5")))

# %% [markdown]
# ## Loading: events to frames
#
# `data.load` with `name="shd"` reads the files through tonic and bins each recording into
# `time_bins` frames of spike counts over its first second (100 bins of 10 ms by default):

# %%
dataset = data.load({"name": "shd", "data_dir": str(data_dir), "time_bins": 100})
x, y = dataset.train.get(np.arange(8))
print("train", dataset.train.num_examples, "| test", dataset.test.num_examples, "| classes", dataset.num_classes)
print("x", x.shape, x.dtype, "(batch, time bins, channels) | y", y)
print("spikes in the first recording:", int(x[0].sum()), "| busiest channel band:", int(x[0].sum(0).argmax()) // 35, "= label", y[0])

# %% [markdown]
# ## The SHD config's model
#
# `configs/shd.py` is the audio benchmark snnTorch, SpikingJelly and Spyx all ship: a recurrent LIF
# layer and a non-spiking leaky-integrator readout (Spyx's `LI`), the `sequence` encoder turning
# `[B, 100, 700]` into time-major `[100, B, 700]`. A narrower version and a few Adam steps:

# %%
config = shd.get_config()
with config.unlocked():
    config.model.hidden = (64,)
model = models.build_model(config.model, dataset.num_classes)
params = model.init(jax.random.PRNGKey(0), jnp.asarray(x), train=False)["params"]
tx = optax.adam(1e-2)
opt_state = tx.init(params)


@jax.jit
def train_step(params, opt_state, x, y):
    def loss_fn(params):
        out = model.apply({"params": params}, x, train=True)
        return losses.cross_entropy(out.out, y)

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss


xs, ys = dataset.train.get(np.arange(dataset.train.num_examples))
for step in range(20):
    params, opt_state, loss = train_step(params, opt_state, jnp.asarray(xs), jnp.asarray(ys))
    if step % 5 == 0 or step == 19:
        print(f"step {step:2d}: loss {float(loss):.3f}")

# %% [markdown]
# With the real SHD files the same run is one command:
# `python train.py --config configs/shd.py --workdir runs/shd --config.data.data_dir=/path/to/data`.
# N-MNIST (`nmnist`), DVS-Gesture (`dvs_gesture`) and CIFAR10-DVS (`cifar10_dvs`) load the same way,
# as `[time_bins, H, W, 2]` frames of ON/OFF event counts ({doc}`../api/data`).
