"""A seed-net operation written two ways, timed in one process (an XLA:CPU YNNPACK finding).

    python -m bench.cpu_ops                  # the seed net's sizes: T = 8, batch 16
    python -m bench.cpu_ops --steps 3

One JSON line per variant (``ms``: the fastest of ``--steps`` timed calls), then a ratio line per
pair, for the rewrite behind ``docs/performance.md``'s CPU table:

- ``repeat_grad``: the gradient of the first conv's output ``[B, 28, 28, 128]`` repeated over T,
  as ``jnp.broadcast_to`` (its transpose: a ``reduce_sum`` over the leading axis) against
  ``snnjax.core.encoders.repeat`` (a stack: its transpose is T - 1 adds).

Each pair is checked equal before it is timed. A finding for issue 12, not part of the library.
"""

from __future__ import annotations

import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from bench.timing import device_record, sizes_parser
from snnjax.core import encoders


def _fastest_ms(f, *args, steps: int) -> float:
    jax.block_until_ready(f(*args))
    best = float("inf")
    for _ in range(steps):
        start = time.perf_counter()
        jax.block_until_ready(f(*args))
        best = min(best, time.perf_counter() - start)
    return round(1000 * best, 2)


def variants(batch: int, time_steps: int) -> dict[str, tuple]:
    """``{pair: ((name, fn, args), (name, fn, args))}`` at the seed net's sizes."""
    rng = np.random.default_rng(0)
    x0 = jnp.asarray(rng.normal(size=(batch, 28, 28, 128)), jnp.float32)
    w0 = jnp.asarray(rng.normal(size=(time_steps, batch, 28, 28, 128)), jnp.float32)

    def repeat_grad(rep):
        return jax.jit(jax.grad(lambda x: jnp.sum(jnp.tanh(rep(x)) * w0)))

    broadcast = lambda x: jnp.broadcast_to(x[None], (time_steps,) + x.shape)  # noqa: E731
    return {
        "repeat_grad": (("broadcast_to", repeat_grad(broadcast), (x0,)),
                        ("encoders.repeat", repeat_grad(lambda x: encoders.repeat(x, time_steps)), (x0,))),
    }


def main(argv: list[str] | None = None) -> int:
    args = sizes_parser(__doc__.splitlines()[0]).parse_args(argv)
    for pair, ((name_a, f_a, a), (name_b, f_b, b)) in variants(args.batch, args.T).items():
        np.testing.assert_allclose(np.asarray(f_a(*a)), np.asarray(f_b(*b)), rtol=1e-5, atol=1e-5)
        ms = {}
        for name, f, fargs in ((name_a, f_a, a), (name_b, f_b, b)):
            ms[name] = _fastest_ms(f, *fargs, steps=args.steps)
            print(json.dumps({"what": pair, "variant": name, "ms": ms[name], "batch": args.batch, "T": args.T,
                              **device_record()}), flush=True)
        print(json.dumps({"ratio": f"{pair} {name_a}/{name_b}", "ms_ratio": round(ms[name_a] / ms[name_b], 2)}),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
