"""A dense layer over time on a CPU, two ways: ``h @ W`` on ``[T, B, N]`` against one ``[T·B, N]`` product.

    python -m bench.dense_over_time                 # T = 256, batch 256, 128 units (jaxpike's SHD net)
    python -m bench.dense_over_time --T 1024 --batch 32 --repeats 5

Times ``jax.grad`` (with respect to the kernel) of two dense products with a ``tanh`` between them,
``sum(tanh(x W) W · g)``, one JSON line each, alternating in one process:

- ``3d``: ``x @ W`` on the ``[T, B, N]`` activations; autodiff gives the kernel gradient as a dot
  contracting two axes (T and B);
- ``merged``: the same product on the merged ``[T·B, N]`` batch (``snnjax.core.time.apply_merged``,
  what ``snnjax.layers.SeqDense`` does), whose kernel gradient contracts one axis;

and checks that both give the same gradient. The finding behind part 1 of issue 37
(``docs/performance.md``): XLA:CPU (jax 0.10) runs the first form on its generic dot and the second
on its fast matrix-multiply fusion. Not part of the library.
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np

from bench.timing import device_record, print_records, time_steps
from snnjax.core.time import apply_merged


def products(mode: str):
    """``(W, x, g) -> dL/dW`` for L = sum(tanh(x W) W · g), the products written as ``mode`` says."""
    def mm(h, w):
        return h @ w if mode == "3d" else apply_merged(lambda flat: flat @ w, h)

    def loss(w, x, g):
        return jnp.sum(mm(jnp.tanh(mm(x, w)), w) * g)

    return jax.jit(jax.grad(loss))


def records(time_steps_: int, batch: int, units: int, steps: int, repeats: int):
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(keys[0], (time_steps_, batch, units))
    w = jax.random.normal(keys[1], (units, units)) / np.sqrt(units)
    g = jax.random.normal(keys[2], (time_steps_, batch, units))
    fns = {mode: products(mode) for mode in ("3d", "merged")}
    grads = {mode: fn(w, x, g) for mode, fn in fns.items()}
    np.testing.assert_allclose(np.asarray(grads["3d"]), np.asarray(grads["merged"]), rtol=1e-4, atol=1e-4)
    best = {mode: float("inf") for mode in fns}
    for _ in range(repeats):  # alternate, so a slow spell of the machine hits both
        for mode, fn in fns.items():
            seconds, _ = time_steps(lambda c, fn=fn: fn(w, x, g) + 0 * c, jnp.zeros_like(w), 1, steps)
            best[mode] = min(best[mode], seconds)
    for mode, seconds in best.items():
        yield {"bench": "dense_over_time", "mode": mode, "T": time_steps_, "batch": batch, "units": units,
               "ms": round(1000 * seconds, 2), **device_record()}
    yield {"ratio": "3d / merged", "T": time_steps_, "batch": batch, "value": round(best["3d"] / best["merged"], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="calls per timed window")
    parser.add_argument("--repeats", type=int, default=7, help="windows per form, alternated")
    parser.add_argument("--jsonl", help="also write the JSON lines here")
    args = parser.parse_args(argv)
    print_records(records(args.T, args.batch, args.units, args.steps, args.repeats), args.jsonl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
