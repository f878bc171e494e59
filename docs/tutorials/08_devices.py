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
# # 8. Several devices and hosts
#
# snnjax trains data-parallel the way current JAX does it: a 1-D device mesh with a `data` axis,
# the batch sharded over it with `NamedSharding`, parameters and optimiser state replicated, one
# `jax.jit` that XLA partitions. Nothing in the model code changes. This tutorial fakes 4 CPU
# devices so that it runs anywhere; on GPUs or TPUs the same code uses the real ones.
#
# The flag must be set before JAX starts, hence before the first `import jax`:

# %%
import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from snnjax import neurons, surrogate

print(jax.device_count(), "devices:", jax.devices())

# %% [markdown]
# ## A mesh and a sharded batch
#
# `jax.make_mesh((n,), ("data",))` lays the devices out on one axis; a `NamedSharding` with
# `P(None, "data")` splits the *batch* axis of a time-major `[T, B, N]` array over it (time stays
# whole on every device: each device runs its examples through all T steps).

# %%
mesh = jax.make_mesh((jax.device_count(),), ("data",))
T, B, N = 16, 32, 64
x_seq = jax.random.uniform(jax.random.PRNGKey(0), (T, B, N))
x_sharded = jax.device_put(x_seq, NamedSharding(mesh, P(None, "data")))
print("each device holds", x_sharded.addressable_shards[0].data.shape, "of", x_sharded.shape)

# %% [markdown]
# ## Jitted code runs sharded, with the same result
#
# A loss over a spiking layer, its gradient with respect to replicated weights: XLA runs each
# device's part of the batch locally and sums the weight gradient across devices (an all-reduce).

# %%
w = jax.random.normal(jax.random.PRNGKey(1), (N, N)) / np.sqrt(N)
w_replicated = jax.device_put(w, NamedSharding(mesh, P()))


@jax.jit
def loss_and_grad(w, x_seq):
    def loss(w):
        s_seq, _ = neurons.lif(x_seq @ w, decay=0.8, spike_fn=surrogate.atan())
        return jnp.mean((s_seq.mean(0) - 0.1) ** 2)

    return jax.value_and_grad(loss)(w)


loss_sharded, grad_sharded = loss_and_grad(w_replicated, x_sharded)
loss_single, grad_single = loss_and_grad(w, x_seq)  # the same function, unsharded inputs
print("loss", float(loss_sharded), "| gradient sharding:", grad_sharded.sharding)
print("max |difference| from one device:", float(jnp.abs(grad_sharded - grad_single).max()))
assert jnp.allclose(grad_sharded, grad_single, atol=1e-5)

# %% [markdown]
# ## The training tool does this for you
#
# `train.py` (and `snnjax.tool.train_lib.train_and_evaluate`) builds the mesh over every device of
# every process (`snnjax.tool.input_pipeline.make_mesh`), shards each global batch on `data` and
# replicates the state. `--config.train.batch_size` is the *global* batch and must divide by the
# device count. The mesh it would use here:

# %%
from snnjax.tool.input_pipeline import make_mesh, shard_batch

tool_mesh = make_mesh()
xb, yb = shard_batch((np.zeros((8, 28, 28, 1), np.float32), np.zeros(8, np.int32)), tool_mesh)
print(tool_mesh.shape, "| a batch of 8 images:", xb.sharding.spec, [s.data.shape for s in xb.addressable_shards])

# %% [markdown]
# ## On a cluster
#
# Several hosts run **the same command** with the same `--workdir` on a shared file system.
# `train.py` calls `jax.distributed.initialize()` when it finds SLURM (`SLURM_NTASKS > 1`), Open MPI,
# or `JAX_COORDINATOR_ADDRESS` with `JAX_NUM_PROCESSES` and `JAX_PROCESS_ID`; each process then loads
# its own contiguous slice of every global batch. What changes against one host is only where
# processes start and where the files live; 2 processes × 2 devices train exactly what 1 × 4 does
# (`tests/tool/test_multihost.py`). By hand, on two hosts:
#
# ```bash
# JAX_COORDINATOR_ADDRESS=10.0.0.1:1234 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=0 \
#   python train.py --config configs/llc_lif_cifar10.py --workdir /shared/runs/llc_cifar10   # host 0
# JAX_COORDINATOR_ADDRESS=10.0.0.1:1234 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=1 \
#   python train.py --config configs/llc_lif_cifar10.py --workdir /shared/runs/llc_cifar10   # host 1
# ```
#
# {doc}`../running` ("Several hosts") has the details, and a two-process try on one machine.
