"""The linear-recurrence neurons two ways: a sequential ``lax.scan`` against ``lax.associative_scan``.

    python -m bench.parallel_neurons                         # T = 784 and 3000, batch 16, 128 neurons
    python -m bench.parallel_neurons --T 784 --repeats 3
    python -m bench.parallel_neurons > out.jsonl; python -m bench.parallel_neurons --table out.jsonl  # markdown

For each neuron (``li``: the leaky-integrator readout, ``neurons.li`` against
``neurons.li_parallel``; ``lif_no_reset``: ``impl="scan"`` against ``impl="associative"``), each T and
each pass (``forward``; ``forward+backward``, the gradient of a weighted sum of the outputs with
respect to the input and the leak), one JSON line: ``ms`` is the median of ``--repeats`` timed calls
of the jitted function after one warm-up call (compile), ``ms_min`` the fastest. Then a ratio line
per case, ``scan_over_associative`` (above 1: the associative form is faster). Both forms are
checked equal (float32 rounding) before they are timed. Inputs ``[T, batch, neurons]`` float32, a
per-channel leak in (0.5, 0.99). Part of issue 33; ``docs/performance.md`` has the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from bench.timing import device_record
from snnjax import neurons, surrogate

FORMS: dict[str, dict[str, Callable]] = {
    "li": {
        "scan": lambda x, k: neurons.li(x, decay=k)[0],
        "associative": lambda x, k: neurons.li_parallel(x, decay=k)[0],
    },
    "lif_no_reset": {
        "scan": lambda x, k: neurons.lif_no_reset(x, decay=k, v_th=1.0, spike_fn=surrogate.atan(), impl="scan")[0],
        "associative": lambda x, k: neurons.lif_no_reset(x, decay=k, v_th=1.0, spike_fn=surrogate.atan(),
                                                         impl="associative")[0],
    },
}


def compiled(f: Callable, pass_: str) -> Callable:
    """``fn(x, k, w)``: the jitted forward ``f(x, k)``, or the gradient of ``Σ w·f(x, k)`` to ``(x, k)``.

    ``w`` is an argument, not a closed-over constant, which XLA would fold into the program.
    """
    if pass_ == "forward":
        return jax.jit(lambda x, k, w: f(x, k))
    return jax.jit(jax.grad(lambda x, k, w: jnp.sum(f(x, k) * w), argnums=(0, 1)))


def time_ms(f: Callable, *args: jax.Array, repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` calls, after one untimed call that compiles."""
    jax.block_until_ready(f(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append(1000 * (time.perf_counter() - start))
    return times


def markdown_table(records: list[dict]) -> str:
    """The docs/performance.md table: a row per neuron, pass and T, median ms of both forms and their ratio."""
    ms = {(r["neuron"], r["pass"], r["T"], r["form"]): r for r in records if "form" in r}
    rows = ["| neuron | pass | T | scan ms | associative ms | scan / associative |",
            "| --- | --- | ---: | ---: | ---: | ---: |"]
    for neuron, pass_, t in sorted({key[:3] for key in ms}, key=lambda k: (k[0], k[2], k[1] != "forward")):
        scan, assoc = ms[(neuron, pass_, t, "scan")], ms[(neuron, pass_, t, "associative")]
        rows.append(f"| {neuron} | {pass_} | {t:,} | {scan['ms']:.1f} (min {scan['ms_min']:.1f}) "
                    f"| {assoc['ms']:.1f} (min {assoc['ms_min']:.1f}) | {scan['ms'] / assoc['ms']:.2f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, nargs="+", default=[784, 3000])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--neurons", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", nargs="+", choices=sorted(FORMS), default=sorted(FORMS))
    parser.add_argument("--table", metavar="JSONL", help="print the markdown table of an earlier run's output, time nothing")
    args = parser.parse_args(argv)
    if args.table:
        with open(args.table) as f:
            print(markdown_table([json.loads(line) for line in f if line.strip()]))
        return 0
    rng = np.random.default_rng(0)
    for num_steps in args.T:
        shape = (num_steps, args.batch, args.neurons)
        x = jnp.asarray(rng.normal(0.3, 1.0, shape), jnp.float32)
        w = jnp.asarray(rng.normal(size=shape), jnp.float32)
        k = jnp.asarray(rng.uniform(0.5, 0.99, (args.neurons,)), jnp.float32)
        for neuron in args.only:
            for pass_ in ("forward", "forward+backward"):
                fns = {form: compiled(f, pass_) for form, f in FORMS[neuron].items()}
                outs = {form: fn(x, k, w) for form, fn in fns.items()}
                if neuron == "li" or pass_ != "forward":  # spikes may flip within rounding of the threshold
                    for a, b in zip(jax.tree.leaves(outs["scan"]), jax.tree.leaves(outs["associative"])):
                        scale = float(jnp.max(jnp.abs(a)))
                        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-4 * scale)
                ms = {}
                for form, fn in fns.items():
                    times = time_ms(fn, x, k, w, repeats=args.repeats)
                    ms[form] = statistics.median(times)
                    print(json.dumps({"neuron": neuron, "form": form, "pass": pass_, "T": num_steps,
                                      "batch": args.batch, "neurons": args.neurons, "ms": round(ms[form], 2),
                                      "ms_min": round(min(times), 2), "repeats": args.repeats, **device_record()}),
                          flush=True)
                print(json.dumps({"ratio": f"{neuron} {pass_} T={num_steps}",
                                  "scan_over_associative": round(ms["scan"] / ms["associative"], 2)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
