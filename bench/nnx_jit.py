"""The train step of an ``snnjax.nnx`` model jitted three ways, timed side by side.

    python -m bench.nnx_jit                       # tiny (the example's net) and medium (CE-LIF [64,152,152])
    python -m bench.nnx_jit --only tiny --steps 50 --repeats 5
    python -m bench.nnx_jit --quick               # tiny sizes: a check that it runs

Variants (the same model, optimizer, data and losses):

- ``nnx.jit``: ``train_step(model, optimizer, x, y)`` under ``@nnx.jit``, which splits the model
  and optimizer into graph and state on every call and merges the result back (in place);
- ``nnx.jit+cached_partial``: the same function bound to the model and optimizer with
  ``nnx.cached_partial``, which caches the graph traversal between calls;
- ``split->jax.jit->merge``: ``nnx.split`` once, a ``jax.jit`` step over the state pytree (merge
  inside, ``nnx.state`` out), ``nnx.update`` once at the end: no graph work per call at all.

Each case prints one JSON line per variant: ms per step (the fastest of ``--repeats`` windows of
``--steps`` steps, the variants' windows interleaved), the first call's seconds (trace, compile,
run) and the final loss (equal across variants: they compute the same). On a shared machine
compare only lines of one run.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from bench.timing import device_record, time_steps
from snnjax import nnx as snnx

CASES = {  # name: (hidden, T, batch)
    "tiny": ((16, 16), 24, 32),
    "medium": ((64, 152, 152), 100, 16),
}
QUICK = {"tiny": ((8,), 6, 4), "medium": ((16, 16), 8, 4)}
VARIANTS = ("nnx.jit", "nnx.jit+cached_partial", "split->jax.jit->merge")


def _setup(hidden: tuple[int, ...], steps: int, batch: int):
    model = snnx.SequenceSNN(1, hidden, 10, te_steps=steps, recurrent_layers=(len(hidden) - 1,), rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
    kx, ky = jax.random.split(jax.random.PRNGKey(1))
    x = jax.random.normal(kx, (steps, batch, 1))
    labels = jax.random.randint(ky, (batch,), 0, 10)
    return model, optimizer, x, labels


def _loss(model: snnx.SequenceSNN, x: jax.Array, labels: jax.Array) -> jax.Array:
    out, _ = model(x)
    return optax.softmax_cross_entropy_with_integer_labels(out.prediction(), labels).mean()


def _train_step(model: snnx.SequenceSNN, optimizer: nnx.Optimizer, x: jax.Array, labels: jax.Array) -> jax.Array:
    loss, grads = nnx.value_and_grad(_loss)(model, x, labels)
    optimizer.update(model, grads)
    return loss


def _stepper(variant: str, model, optimizer, x, labels) -> tuple[Callable[[Any], Any], Any, Callable[[Any], jax.Array]]:
    """``(step, carry, loss_of)``: ``carry = step(carry)`` runs one train step."""
    if variant == "nnx.jit":
        jitted = nnx.jit(_train_step)
        return (lambda _: jitted(model, optimizer, x, labels)), jnp.zeros(()), lambda c: c
    if variant == "nnx.jit+cached_partial":
        bound = nnx.cached_partial(nnx.jit(_train_step), model, optimizer)
        return (lambda _: bound(x, labels)), jnp.zeros(()), lambda c: c
    graphdef, state = nnx.split((model, optimizer))

    @jax.jit
    def step(state):
        model, optimizer = nnx.merge(graphdef, state)
        loss = _train_step(model, optimizer, x, labels)
        return nnx.state((model, optimizer)), loss

    return (lambda carry: step(carry[0])), (state, jnp.zeros(())), lambda c: c[1]


def measure(case: str, sizes: tuple, steps: int, repeats: int, warmup: int) -> list[dict[str, Any]]:
    """Every variant of one case: each is built and compiled, then the variants' timing windows are
    interleaved (round r times every variant once), so a load that comes and goes on a shared
    machine slows them alike; a variant's time is its fastest window."""
    hidden, t, batch = sizes
    runs = {}
    for variant in VARIANTS:
        step, carry, loss_of = _stepper(variant, *_setup(hidden, t, batch))
        start = time.perf_counter()
        carry = jax.block_until_ready(step(carry))
        runs[variant] = {"step": step, "carry": carry, "loss_of": loss_of, "first_call_s": time.perf_counter() - start,
                         "best": float("inf")}
    for run in runs.values():
        for _ in range(warmup):
            run["carry"] = run["step"](run["carry"])
        jax.block_until_ready(run["carry"])
    for _ in range(repeats):
        for run in runs.values():
            seconds, run["carry"] = time_steps(run["step"], run["carry"], 0, steps)
            run["best"] = min(run["best"], seconds)
    return [{"bench": "nnx_jit", "case": case, "variant": variant, "hidden": list(hidden), "T": t, "batch": batch,
             "ms_per_step": round(1e3 * run["best"], 3), "first_call_s": round(run["first_call_s"], 2),
             "final_loss": float(run["loss_of"](run["carry"])), "train_steps": 1 + warmup + steps * repeats,
             "windows": repeats, **device_record()} for variant, run in runs.items()]


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), default=sorted(CASES))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 steps: a check that it runs")
    args = parser.parse_args(argv)
    table = QUICK if args.quick else CASES
    steps, repeats, warmup = (2, 1, 1) if args.quick else (args.steps, args.repeats, args.warmup)
    records = []
    for case in args.only:
        for record in measure(case, table[case], steps, repeats, warmup):
            print(json.dumps(record), flush=True)
            records.append(record)
    return records


if __name__ == "__main__":
    main()
