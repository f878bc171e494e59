"""jaxpike's SHD benchmark net against snnjax, in one process (issue 37).

    ~/.cache/snnjax-bench/venv-jaxpike/bin/python -m bench.peer_jaxpike            # both cases
    ~/.cache/snnjax-bench/venv-jaxpike/bin/python -m bench.peer_jaxpike --quick    # T = 32, batch 8: a check
    ... -m bench.peer_jaxpike --jsonl jaxpike.jsonl; python -m bench.table --jax-peers jaxpike.jsonl

(the venv: ``bash bench/peers/setup_venvs.sh jaxpike``; snnjax and jaxpike 0.1.4 under one JAX).

The workload is jaxpike 0.1.4's own SHD benchmark (``benchmarks/spyx_shd.py`` of its repository;
``bench/workloads.py`` says what it is) at T = 256, batch 256 and T = 1024, batch 32, on random
input spikes at 5 % density, train step (forward, integral cross-entropy with label smoothing 0.3,
backward, Adam 5e-4) and eval forward. Timed in one process, alternating, each the fastest of
``--repeats`` windows of ``--steps`` steps; each record also has ``temp_MiB``, the XLA temporary
memory of its compiled step (``memory_analysis()``: exact, independent of load):

- jaxpike, its three runners of that file and ``benchmarks/scan_unroll.py``: ``jaxpike.unroll`` with
  its default of 8 steps per loop iteration (``path = "unroll[8]"``), ``jaxpike.unroll`` with
  ``scan_unroll=1`` (``"unroll[1]"``) and ``jaxpike.unroll_checkpointed`` (``"checkpointed"``:
  chunks of the divisor of T nearest √T, each chunk rematerialised in the backward pass). Its
  train step is its benchmark's: ``eqx.filter_jit`` of ``jax.value_and_grad`` and an optax Adam
  update of ``eqx.partition``'s array leaves.
- snnjax, the net composed by hand (:func:`bench.workloads.shd_hand_apply`: matrix products,
  ``snnjax.neurons.leaky``, ``snnjax.neurons.li``) in a user's own ``jax.jit`` train step with the
  state donated, at ``unroll`` 1 and 8 (``"hand[unroll=k]"``), and the same net chunked by
  ``snnjax.neurons.remat_chunks`` with jaxpike's checkpointed chunk (the divisor of T nearest √T,
  ``"hand[chunk=k]"``), against jaxpike's ``"checkpointed"`` runner; and the nearest ``SequenceSNN``
  ``train.py`` can build (``"sequence_snn"``: ``train.py``'s own train step, ``bench.run``'s), which
  is not the same net (``bench/workloads.py``).

The benchmark's two neuron classes (Spyx's LIF and LI under jaxpike's neuron contract) live in
jaxpike's repository, not in its wheel. :func:`build_jaxpike_net` writes them from the equations that
file documents, on jaxpike's ``Dense``, ``Sequential`` and ``Surrogate``; with ``JAXPIKE_REPO`` set to a
checkout of jaxpike at tag v0.1.4 (or ``--jaxpike_repo``), the net is built by that file's own
``build`` instead, and ``tests/test_bench_peers.py`` checks that the two give the same parameters and
outputs. Semantic difference to snnjax's ``neurons.leaky``: the benchmark neuron emits the previous
step's spike ``H(v[t-1] - 1)``, so each spiking layer's output is one step later; otherwise the nets
compute the same function (tested: equal outputs and gradients once snnjax's spikes are delayed by
one step).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from bench import workloads as wl
from bench.timing import best_window, device_record, peak_memory_mib, print_records

PATHS = ("unroll[8]", "unroll[1]", "checkpointed")  # jaxpike's runners
HAND_UNROLLS = (1, 8)
HAND_CHUNK_UNROLLS = (1,)  # the chunked hand net's scan unrolls (jaxpike's checkpointed runner uses 8)
REPEATS = 3


def available() -> bool:
    """jaxpike (and with it equinox) importable."""
    try:
        import jaxpike  # noqa: F401
    except ImportError:
        return False
    return True


def _benchmark_file(repo: str | None):
    """jaxpike's ``benchmarks/spyx_shd.py`` module from a checkout at ``repo`` (None: not used)."""
    if not repo:
        return None
    if not os.path.isfile(os.path.join(repo, "benchmarks", "spyx_shd.py")):
        raise FileNotFoundError(f"{repo} holds no benchmarks/spyx_shd.py (a jaxpike checkout at v0.1.4 does)")
    if repo not in sys.path:
        sys.path.insert(0, repo)
    import importlib

    return importlib.import_module("benchmarks.spyx_shd")


def _classes():
    """The benchmark's surrogate and neurons under jaxpike's contract (built on use: jaxpike is optional)."""
    import equinox as eqx
    import jaxpike as jp
    from jaxpike.neurons import STATE_DTYPE

    class ArcTan(jp.Surrogate):
        """Spyx's ``axn.arctan(k)``, d/dv = 1 / (π (1 + (kπv)²)), as a jaxpike relaxation.
        ``k`` static: no leaf to ride in a scan carry."""

        k: float = eqx.field(static=True, default=wl.SHD_ARCTAN_K)

        def relaxation(self, v):
            return wl.spyx_arctan_primitive(v, self.k)

    class LaggedLIF(eqx.Module):
        """Spyx's LIF: ``s[t] = H(v[t-1] - θ)``, ``v[t] = β v[t-1] + x[t] - θ s[t]``, β per neuron,
        clipped to [0, 1] where used; state ``v``."""

        beta: jax.Array
        surrogate: Any
        threshold: float = eqx.field(static=True)

        def __init__(self, width: int, *, key, threshold: float = 1.0):
            self.beta = wl.shd_beta_init(key, (width,), STATE_DTYPE)
            self.surrogate = ArcTan()
            self.threshold = threshold

        def init_state(self, input_shape):
            return jnp.zeros(input_shape, STATE_DTYPE)

        def out_shape(self, input_shape):
            return input_shape

        def __call__(self, v, x):
            s = self.surrogate(v - self.threshold)
            return jnp.clip(self.beta, 0.0, 1.0) * v + x.astype(STATE_DTYPE) - self.threshold * s, s

    class Readout(eqx.Module):
        """Spyx's LI: ``v[t] = β v[t-1] + x[t]``, output ``v[t]``."""

        beta: jax.Array

        def __init__(self, width: int, *, key):
            self.beta = wl.shd_beta_init(key, (width,), STATE_DTYPE)

        def init_state(self, input_shape):
            return jnp.zeros(input_shape, STATE_DTYPE)

        def out_shape(self, input_shape):
            return input_shape

        def __call__(self, v, x):
            v = jnp.clip(self.beta, 0.0, 1.0) * v + x.astype(STATE_DTYPE)
            return v, v

    return LaggedLIF, Readout


def build_jaxpike_net(key, repo: str | None = None):
    """jaxpike's benchmark net (``jaxpike.Sequential``), its keys drawn as that file's ``build`` draws
    them: six from ``key``, in layer order. ``repo``: use that file's ``build`` itself."""
    bench_file = _benchmark_file(repo or os.environ.get("JAXPIKE_REPO"))
    if bench_file is not None:
        return bench_file.build(wl.SHD_HIDDEN, wl.SHD_INPUTS, key, neuron_kind="lif")
    import jaxpike as jp

    lif, readout = _classes()
    k = jax.random.split(key, 6)
    return jp.Sequential(
        jp.Dense(wl.SHD_INPUTS, wl.SHD_HIDDEN, key=k[0], use_bias=False), lif(wl.SHD_HIDDEN, key=k[1]),
        jp.Dense(wl.SHD_HIDDEN, wl.SHD_HIDDEN, key=k[2], use_bias=False), lif(wl.SHD_HIDDEN, key=k[3]),
        jp.Dense(wl.SHD_HIDDEN, wl.SHD_CLASSES, key=k[4], use_bias=False), readout(wl.SHD_CLASSES, key=k[5]))


def runner(path: str) -> Callable:
    """``run(net, xs [T, B, 128]) -> traces [T, B, 20]`` for one of :data:`PATHS`."""
    import jaxpike as jp

    if path == "unroll[8]":
        return lambda net, xs: jp.unroll(net, xs)[0]  # jaxpike's default: min(8, T) steps per iteration
    if path == "unroll[1]":
        return lambda net, xs: jp.unroll(net, xs, scan_unroll=1)[0]
    if path == "checkpointed":
        return lambda net, xs: jp.unroll_checkpointed(net, xs)[0]
    raise ValueError(f"path must be one of {PATHS}, got {path!r}")


def hand_params_from_jaxpike(net) -> dict:
    """The :class:`bench.workloads.ShdHandNet` variables holding ``net``'s weights (flax kernels are
    ``[in, out]``, jaxpike's ``[out, in]``)."""
    dense = [l for l in net.layers if hasattr(l, "weight")]
    beta = [l.beta for l in net.layers if hasattr(l, "beta")]
    params = {f"dense{i}": {"kernel": jnp.asarray(d.weight).T} for i, d in enumerate(dense)}
    params.update(beta0=beta[0], beta1=beta[1], beta_out=beta[2])
    return {"params": params}


# --- one timed thing per variant: call() runs one step, sync waits for it ----------------------

class Variant:
    def __init__(self, framework: str, path: str, mode: str, call: Callable[[], Any], extra: dict | None = None,
                 temp_mib: float | None = None):
        self.framework, self.path, self.mode, self.call = framework, path, mode, call
        self.extra = extra or {}
        self.temp_mib = temp_mib
        self.seconds = math.inf
        self.rounds: list[float] = []  # seconds per step of each round's window


def temp_mib(jitted: Callable, *args) -> float:
    """XLA's temporary memory of ``jitted`` compiled for ``args``, in MiB (``memory_analysis()``)."""
    return round(jitted.lower(*args).compile().memory_analysis().temp_size_in_bytes / 2**20, 1)


def _optimizer():
    import optax

    return optax.adam(wl.SHD_LEARNING_RATE)


def jaxpike_variants(path: str, x: jax.Array, y: jax.Array, key) -> list[Variant]:
    """jaxpike's train step (its benchmark's) and eval forward on ``path``."""
    import equinox as eqx
    import jaxpike

    run = runner(path)
    net = build_jaxpike_net(key)
    params, static = eqx.partition(net, eqx.is_inexact_array)
    tx = _optimizer()
    cell = [params, tx.init(params)]

    def step(params, opt_state, xs, labels):
        loss, grads = jax.value_and_grad(lambda p: wl.shd_loss(run(eqx.combine(p, static), xs), labels))(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, loss

    train_step = eqx.filter_jit(step)

    def train():
        cell[0], cell[1], loss = train_step(cell[0], cell[1], x, y)
        return loss

    def evaluate(params, xs, labels):
        return (run(eqx.combine(params, static), xs).sum(0).argmax(-1) == labels).mean()

    eval_step = eqx.filter_jit(evaluate)
    extra = {"jaxpike": jaxpike.__version__}
    # The same functions under jax.jit (the partitioned params are a pytree of arrays and Nones) for
    # XLA's memory analysis; filter_jit compiles the same computation.
    return [Variant("jaxpike", path, "train", train, extra, temp_mib(jax.jit(step), *cell, x, y)),
            Variant("jaxpike", path, "eval", lambda: eval_step(params, x, y), extra,
                    temp_mib(jax.jit(evaluate), params, x, y))]


def hand_variants(unroll: int, x: jax.Array, y: jax.Array, key, chunk: int = 0,
                  scalar_beta: bool = False, matmul: str = "@") -> list[Variant]:
    """snnjax's hand-composed net in a user's own jitted train step (state donated) and eval forward;
    ``chunk > 0``: chunked by ``neurons.remat_chunks``; ``scalar_beta``: one learnt β per layer;
    ``matmul="merged"``: its products on the merged ``[T·B, N]`` activations (the path gains ``,merged``)."""
    import optax

    net = wl.shd_hand_net(unroll=unroll, chunk=chunk, scalar_beta=scalar_beta, matmul=matmul)
    variables = net.init(key, x[:2])
    tx = _optimizer()

    def train_step(carry, xs, labels):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(lambda p: wl.shd_loss(net.apply(p, xs), labels))(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    train_jit = jax.jit(train_step, donate_argnums=0)
    cell = [(jax.tree.map(jnp.copy, variables), tx.init(variables))]  # donated: eval keeps its own copy

    def train():
        cell[0], loss = train_jit(cell[0], x, y)
        return loss

    eval_jit = jax.jit(lambda p, xs, labels: (net.apply(p, xs).sum(0).argmax(-1) == labels).mean())
    tag = ",merged" if matmul == "merged" else ""
    if chunk:
        path = f"hand[chunk={chunk}{f',unroll={unroll}' if unroll != 1 else ''}{tag}]"
    else:
        path = f"hand[unroll={unroll}{',scalar_beta' if scalar_beta else ''}{tag}]"
    return [Variant("snnjax", path, "train", train, temp_mib=temp_mib(train_jit, cell[0], x, y)),
            Variant("snnjax", path, "eval", lambda: eval_jit(variables, x, y), temp_mib=temp_mib(eval_jit, variables, x, y))]


def sequence_snn_variants(x: np.ndarray, y: np.ndarray) -> list[Variant]:
    """The nearest ``SequenceSNN`` (``bench/workloads.py``) with ``train.py``'s train step and an
    eval-mode forward, as ``bench.run`` times them."""
    from bench import run as bench_run
    from snnjax.tool import input_pipeline as pipeline
    from snnjax.tool import train_steps

    workload = wl.shd_sequence_workload(x.shape[0], x.shape[1])
    config, model, mesh, tx, schedule, state = bench_run._setup(workload, "scan")
    xb, yb = pipeline.shard_batch((np.ascontiguousarray(np.swapaxes(x, 0, 1)), y), mesh)  # batch-major data
    step_fn = train_steps.jit_train_step(bench_run.train_step_of(config, model, tx, schedule), mesh)
    cell = [state]

    def train():
        cell[0], metrics = step_fn(cell[0], xb, yb)
        return metrics["loss"]

    variables = {"params": state.params, "batch_stats": state.batch_stats}
    forward = jax.jit(lambda v, xs: model.apply(v, xs, train=False).out)
    variables = jax.tree.map(jnp.copy, variables)  # the train step donates the state it reads
    return [Variant("snnjax", "sequence_snn", "train", train, temp_mib=temp_mib(step_fn, state, xb, yb)),
            Variant("snnjax", "sequence_snn", "eval", lambda: forward(variables, xb), temp_mib=temp_mib(forward, variables, xb))]


def time_alternating(variants: list[Variant], steps: int, warmup: int, repeats: int) -> None:
    """Each variant's seconds per step: warm-up (compile) for all, then ``repeats`` rounds in which
    every variant runs one window of ``steps`` steps in turn; the fastest window is kept. On a shared
    machine, alternating spreads the slow spells over the variants instead of onto one of them."""
    for v in variants:
        best_window(v.call, jax.block_until_ready, warmup, 1, 1)
    for _ in range(repeats):
        for v in variants:
            v.rounds.append(best_window(v.call, jax.block_until_ready, 0, steps, 1))
            v.seconds = min(v.rounds)


def median_round_ratio(ours: Variant, theirs: Variant) -> float:
    """The median over rounds of ``theirs``' seconds per step over ``ours``' in the same round (our
    throughput over theirs): a slow spell of the machine hits both windows of a round alike, so
    the per-round ratio moves less than either time."""
    return float(np.median([t / o for o, t in zip(ours.rounds, theirs.rounds)]))


def records(cases, steps: int, warmup: int, repeats: int, paths=PATHS, hand_unrolls=HAND_UNROLLS,
            sequence_snn: bool = True, peer: bool = True, hand_chunk_unrolls=HAND_CHUNK_UNROLLS,
            hand_scalar_beta: bool = False, hand_merged: bool = False):
    """JSON records per case: one per framework, path and mode, then our/their ratio lines."""
    if peer and not available():
        yield {"note": "jaxpike is not importable here (bash bench/peers/setup_venvs.sh jaxpike); snnjax only"}
        peer = False
    for time_steps, batch in cases:
        x_np, y_np = wl.shd_random_batch(time_steps, batch)
        x, y = jnp.asarray(x_np), jnp.asarray(y_np)
        key = jax.random.key(0)
        variants = []
        for u in hand_unrolls:
            variants += hand_variants(u, x, y, jax.random.PRNGKey(0))
        if hand_scalar_beta:
            variants += hand_variants(1, x, y, jax.random.PRNGKey(0), scalar_beta=True)
        for u in hand_chunk_unrolls:
            variants += hand_variants(u, x, y, jax.random.PRNGKey(0), chunk=wl.shd_best_chunk(time_steps))
        if hand_merged:
            variants += hand_variants(1, x, y, jax.random.PRNGKey(0), matmul="merged")
            variants += hand_variants(1, x, y, jax.random.PRNGKey(0), chunk=wl.shd_best_chunk(time_steps),
                                      matmul="merged")
        if sequence_snn:
            variants += sequence_snn_variants(x_np, y_np)
        if peer:
            for path in paths:
                variants += jaxpike_variants(path, x, y, key)
        time_alternating(variants, steps, warmup, repeats)
        out = []
        by_name = {(v.framework, v.path, v.mode): v for v in variants}
        for v in variants:
            out.append({"framework": v.framework, "workload": "shd_jaxpike", "path": v.path, "mode": v.mode,
                        "batch": batch, "T": time_steps, "ms_per_step": round(1000 * v.seconds, 3),
                        "samples_per_s": round(batch / v.seconds, 1), "temp_MiB": v.temp_mib,
                        "peak_mem_MiB": peak_memory_mib(),
                        **v.extra, **device_record()})
        yield from out
        for ours in (r for r in out if r["framework"] == "snnjax"):
            for theirs in (r for r in out if r["framework"] == "jaxpike" and r["mode"] == ours["mode"]):
                pair = (by_name[("snnjax", ours["path"], ours["mode"])], by_name[("jaxpike", theirs["path"], theirs["mode"])])
                yield {"ratio": f"snnjax {ours['path']}/jaxpike {theirs['path']} shd_jaxpike {ours['mode']} "
                                f"T {time_steps} batch {batch}",
                       "samples_per_s_ratio": round(ours["samples_per_s"] / theirs["samples_per_s"], 2),
                       "median_round_ratio": round(median_round_ratio(*pair), 2), "rounds": len(pair[0].rounds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T = 32, batch 8: a check that the bench runs")
    parser.add_argument("--case", nargs=2, type=int, action="append", metavar=("T", "BATCH"),
                        help="a (T, batch) case instead of the workload's two (repeatable)")
    parser.add_argument("--steps", type=int, help="timed steps per window (default 10; 2 with --quick)")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="windows per variant, alternated")
    parser.add_argument("--paths", nargs="*", choices=PATHS, default=list(PATHS), help="jaxpike runners")
    parser.add_argument("--hand_unroll", nargs="*", type=int, default=list(HAND_UNROLLS),
                        help="snnjax hand-composed net: lax.scan unroll values")
    parser.add_argument("--no_sequence_snn", action="store_true", help="leave out the SequenceSNN rows")
    parser.add_argument("--hand_chunk_unroll", nargs="*", type=int, default=list(HAND_CHUNK_UNROLLS),
                        help="the hand net chunked by neurons.remat_chunks: lax.scan unroll values (none: leave it out)")
    parser.add_argument("--hand_scalar_beta", action="store_true",
                        help="add the hand net at unroll 1 with one learnt beta per layer (not per neuron)")
    parser.add_argument("--hand_merged", action="store_true",
                        help="add the hand net at unroll 1 and chunked with its products on the merged [T*B, N] batch")
    parser.add_argument("--jaxpike_repo", help="a jaxpike checkout at v0.1.4: build the net with its "
                                               "benchmarks/spyx_shd.py (default: $JAXPIKE_REPO)")
    parser.add_argument("--jsonl", help="also write the JSON lines here")
    args = parser.parse_args(argv)
    if args.jaxpike_repo:
        os.environ["JAXPIKE_REPO"] = args.jaxpike_repo
    cases = [tuple(c) for c in args.case] if args.case else (wl.JAXPIKE_SHD_QUICK_CASES if args.quick
                                                            else wl.JAXPIKE_SHD_CASES)
    steps = args.steps or (2 if args.quick else 10)
    def labelled(stream):
        for record in stream:
            if os.environ.get("JAXPIKE_REPO") and record.get("framework") == "jaxpike":
                record["net_from"] = "jaxpike benchmarks/spyx_shd.py"
            yield record

    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        print_records(labelled(records(cases, steps, 1, args.repeats, args.paths, args.hand_unroll,
                                       not args.no_sequence_snn, hand_chunk_unrolls=args.hand_chunk_unroll,
                                       hand_scalar_beta=args.hand_scalar_beta, hand_merged=args.hand_merged)),
                      args.jsonl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
