"""Checks that every paper config takes a finite gradient step at full size (CPU is enough).

    PYTHONPATH=. python scripts/check_config_gradients.py [name ...]

For each ``configs/<name>.py`` (default argument) it builds the full model, draws a batch of 2
(MNIST-shaped configs use the shipped MNIST subset, generated tasks their generator, CIFAR-10 and
event datasets random tensors of the real shape), and prints the largest absolute gradient. The
tests check shrunk models and the three 784-step CE-LIF cases; this covers every config at the size
the paper trains, which takes minutes on a CPU.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from snnjax import data, losses, models

EVENT_SHAPES = {"nmnist": ((34, 34, 2), 10), "dvs_gesture": ((128, 128, 2), 11), "cifar10_dvs": ((128, 128, 2), 10)}


def batch(cfg) -> tuple[np.ndarray, np.ndarray, int]:
    name = cfg.data.name
    rng = np.random.default_rng(0)
    if name in ("mnist", "fashion_mnist"):
        x, y = data.load(data.default_data_config()).train.get(np.arange(2))
        return x, y, 10
    if name in ("adding", "copy_memory"):
        ds = data.load(cfg.data)
        x, y = ds.train.get(np.arange(2))
        return x, y, ds.num_classes
    if name == "cifar10":
        return rng.uniform(0, 1, (2, 32, 32, 3)).astype(np.float32), np.array([1, 2]), 10
    shape, classes = EVENT_SHAPES[name]
    frames = (rng.uniform(0, 1, (2, cfg.data.time_bins, *shape)) > 0.9).astype(np.float32)
    return frames, np.array([1, 2]), classes


def largest_gradient(name: str) -> float:
    cfg = importlib.import_module(f"configs.{name}").get_config(None)
    x, y, num_outputs = batch(cfg)
    model = models.build_model(cfg.model, num_outputs)
    rngs = {"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1), "encoder": jax.random.PRNGKey(2)}
    variables = model.init(rngs, jnp.asarray(x), train=False)

    def loss(params):
        out, _ = model.apply({**variables, "params": params}, jnp.asarray(x), train=True, rngs=rngs,
                             mutable=["batch_stats"])
        return losses.total_loss(out, jnp.asarray(y), cfg.loss.name, cfg.loss.local_weight, cfg.loss.reduction)[0]

    grads = jax.jit(jax.grad(loss))(variables["params"])
    return max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads))


def main(names: list[str]) -> int:
    if not names:
        names = sorted(p.stem for p in Path("configs").glob("*.py")
                       if p.stem not in ("__init__", "common") and not p.stem.endswith("_common")
                       and not p.stem.startswith("smoke"))
    bad = 0
    for name in names:
        start = time.time()
        value = largest_gradient(name)
        bad += not np.isfinite(value)
        print(f"{name:30s} finite={np.isfinite(value)!s:5s} max|grad|={value:.3g}  ({time.time() - start:.0f} s)", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
