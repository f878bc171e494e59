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
# # 7. Exporting to NIR and reading it back
#
# NIR (the Neuromorphic Intermediate Representation, `nir` 1.0) is the file format SpikingJelly,
# snnTorch, Norse and Spyx exchange networks in, and the way to neuromorphic hardware. snnjax
# exports a trained conv net (`snnjax.nir.export_nir`) and runs a NIR graph (`snnjax.nir.import_nir`).
# This tutorial trains a small net, exports it, writes and reads the file, runs it back in snnjax
# and checks that it computes what the model computed. {doc}`../nir` lists what each peer reads.
#
# The export folds each BatchNorm into its convolution (eval-mode statistics) and writes Conv2d /
# AvgPool2d / Affine / LIF nodes. A snnjax LIF step $h_t = k\,v_{t-1} + x_t$ is written as NIR's
# continuous LIF, $\tau\,\dot v = (v_\mathrm{leak} - v) + R\,I$, whose forward-Euler step at
# $\Delta t$ is the same update ({doc}`../api/nir`, `snnjax.nir.mapping`); the default
# $\Delta t = 10^{-4}$ s is the step SpikingJelly and snnTorch assume.

# %%
import pathlib

import jax
import jax.numpy as jnp
import nir
import numpy as np

from snnjax import nir as snn_nir
from snnjax.configs import smoke_nir
from snnjax.tool import train_lib
from snnjax.tool.run_dir import load_run

WORKDIR = pathlib.Path("runs/tutorial_07")

# %% [markdown]
# ## A net NIR can express
#
# `configs/smoke_nir.py` is the smoke net with average pooling (NIR 1.0 has no max pooling): conv →
# BN → LIF blocks, a spiking dense layer voting for 10 classes, direct coding, hard reset. We train a
# smaller version for 40 steps with the library function behind `train.py`:

# %%
config = smoke_nir.get_config()
with config.unlocked():
    config.model.spec = "8c3-ap2-16c3-ap2-100-10"
    config.train.num_steps = 40
summary = train_lib.train_and_evaluate(config, WORKDIR, progress=False)
print("test accuracy", summary["final_test_accuracy"])

# %% [markdown]
# ## Export and write
#
# `load_run` gives the run's config, dataset, model and trained variables (the same as
# `python -m snnjax.export runs/tutorial_07 --format nir` does from the command line). The input shape
# is one example as the data loader yields it, `[H, W, C]`:

# %%
run = load_run(WORKDIR)
graph = snn_nir.export_nir(run.config.model, run.variables, (28, 28, 1))
print("nodes:", " -> ".join(f"{name}:{type(graph.nodes[name]).__name__}" for name in snn_nir.chain_order(graph)))
print("metadata:", {k: graph.metadata[k] for k in ("dt", "time_steps", "spike_condition")})
nir.write(WORKDIR / "model.nir", graph)
print("written:", WORKDIR / "model.nir", f"{(WORKDIR / 'model.nir').stat().st_size / 1e3:.0f} kB")

# %% [markdown]
# ## Read it back and run it
#
# `import_nir(graph)` returns `(apply_fn, params)`: a pure, jit-able function over a time-major input
# and the graph's parameters under NIR's names. NIR's own rule is to fire on $v > v_\mathrm{th}$
# (the import's default); this model fired on $v \ge v_\mathrm{th}$, which the file records in its
# metadata, so we ask for that rule to get the same spikes:

# %%
graph_read = nir.read(WORKDIR / "model.nir")
apply_fn, params = snn_nir.import_nir(graph_read, input_layout="nhwc", strict_threshold=False)
print({name: sorted(p) for name, p in params.items()})

x, y = run.dataset.test.get(np.arange(100))
T = run.config.model.time_steps
x_seq = jnp.broadcast_to(jnp.asarray(x), (T,) + x.shape)  # direct coding: the image at every step
out_nir = jax.jit(apply_fn)(params, x_seq)  # [T, B, 10]
out_model = run.model.apply(run.variables, jnp.asarray(x), train=False).out  # [T, B, 10]

print("output", out_nir.shape, "| max |difference| from the model:", float(jnp.abs(out_nir - out_model).max()))
same = np.mean(np.asarray(out_nir.mean(0).argmax(-1)) == np.asarray(out_model.mean(0).argmax(-1)))
print(f"same prediction for {100 * same:.0f}% of 100 test images; accuracy of the NIR net:",
      np.mean(np.asarray(out_nir.mean(0).argmax(-1)) == y))
assert same >= 0.98  # folding BatchNorm changes float32 rounding; a membrane right at threshold may flip

# %% [markdown]
# ## What cannot be exported
#
# NIR 1.0 has no max pooling, and snnjax's export refuses, with one error naming them, what it cannot
# write exactly: soft reset, ALIF and CE-LIF neurons, OSSA, ReLU before the neurons, sequence nets.
# Nothing is approximated silently:

# %%
cfg = run.config.model.copy_and_resolve_references()
cfg.spec = "8c3-p2-16c3-p2-100-10"  # max pooling
try:
    snn_nir.export_nir(cfg, run.variables, (28, 28, 1))
except ValueError as error:
    print("refused:", str(error)[:300])

# %% [markdown]
# The imported `apply_fn` is differentiable (its spike function has a surrogate gradient, sigmoid by
# default), so a network made in another framework can be fine-tuned in snnjax. Reading a peer's
# file: `import_nir(nir.read(path))`; a file without `dt` in its metadata (SpikingJelly, snnTorch
# and Norse write none) runs at 1e-4 s, with a warning saying so.
