"""snnjax speed benchmark: one JSON line per workload, batch size and mode (train / eval).

    python -m bench.run                 # full workloads (a GPU is expected)
    python -m bench.run --quick         # tiny batches and a 49-step sequence: under a minute on a CPU
    python -m bench.run --peer          # also time the same nets in SpikingJelly and Spyx, with our/their ratios
    python -m bench.run --peer spyx     # one peer only
    python -m bench.run --only seq_plif --impl pallas
    python -m bench.run --peer --only seed_bn_lif --batch 16 --T 8     # one size, any T
    python -m bench.run --quick --loop host device   # train throughput of both loops, side by side
    python -m bench.run --only seq_ce_lif --batch 32 --scan layer step   # per-layer scans vs one per-step scan
    python -m bench.run --only seed_bn_lif --batch 16 --unroll 1 auto     # rolled vs unrolled time loop, A/B
    python -m bench.run --memory        # XLA's memory analysis and step time, remat off and on (bench/memory.py)

A train step is the real one ``train.py`` runs (``snnjax.tool.train_steps.make_train_step``: forward, loss,
backward, optimiser, NaN guard), jitted with the state donated; eval is a jitted eval-mode forward.
With ``--loop``, train records time the real loops instead, in one process: ``host`` loads each
batch from NumPy (``input_pipeline``: prefetch thread, one copy and one dispatch per step) and
``device`` holds the examples on the device and runs ``--steps_per_call`` steps per dispatch
(``device_loop.make_train_call``); a ``ratio`` line gives device/host per workload and batch, and
with ``--peer`` each loop's ratio to each peer's bare train step (which has no data loading in it,
so it bounds their own training loop's speed from above). The peers are SpikingJelly
(``bench/peer_spikingjelly.py``) and Spyx (``bench/peer_spyx.py``), each timed where it is installed.
Each line holds samples/s, ms/step (the fastest of ``REPEATS`` timed windows of ``--steps`` steps,
for the peers alike), peak device memory (where the backend reports it), the device, the JAX
version, the host-malloc mode (``--host_malloc``, :mod:`snnjax.tool.host_malloc`) and, for snnjax's train
records, ``all_finite``: whether the steps stayed finite on the random batches (a device loop that
was not gives a note instead of a figure: it stops a call at the first non-finite step). Compare runs as ratios taken in one process on one device, never across machines.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any, Iterator

import jax
import numpy as np

from bench import peer_spikingjelly, peer_spyx
from bench.timing import device_record, peak_memory_mib, time_steps
from bench.workloads import Workload, random_batch, workloads
from snnjax.tool import host_malloc
from snnjax.tool import input_pipeline as pipeline
from snnjax import models
from snnjax.tool import optim
from snnjax.tool import train_steps


def _setup(workload: Workload, impl: str):
    """``(config, model, mesh, tx, schedule, state)`` of a workload: the model with neuron ``impl``,
    its optimiser and a fresh train state replicated on the mesh of every device."""
    config = workload.config.copy_and_resolve_references()
    config.model.neuron.impl = impl
    model = models.build_model(config.model, workload.num_classes)
    mesh = pipeline.make_mesh()
    tx, schedule = optim.make_optimizer(config.optim, steps_per_epoch=1000, num_epochs=1)
    state = train_steps.create_train_state(model, tx, workload.input_shape, jax.random.PRNGKey(0), mesh)
    return config, model, mesh, tx, schedule, state


def train_step_of(config, model, tx, schedule):
    """The train step ``train.py`` runs (forward, loss, backward, optimiser, NaN guard), not jitted."""
    return train_steps.make_train_step(model, tx, schedule, config.loss, "classification", jax.random.PRNGKey(1),
                                       keep_last_good=False)


REPEATS = 3  # timed windows per record (ours and the peers' alike); the fastest is reported


def snnjax_record(workload: Workload, batch: int, mode: str, steps: int, warmup: int, impl: str) -> dict[str, Any]:
    config, model, mesh, tx, schedule, state = _setup(workload, impl)
    x, y = pipeline.shard_batch(random_batch(workload, batch), mesh)
    if mode == "train":
        step_fn = train_steps.jit_train_step(train_step_of(config, model, tx, schedule), mesh)
        seconds, state = time_steps(lambda s: step_fn(s, x, y)[0], state, warmup, steps, REPEATS)
        finite = {"all_finite": bool(step_fn(state, x, y)[1]["finite"])}  # one more step, untimed
    else:
        finite = {}
        variables = {"params": state.params, "batch_stats": state.batch_stats}
        forward = jax.jit(lambda v, x: model.apply(v, x, train=False, rngs={"encoder": jax.random.PRNGKey(0)}).out)
        seconds, _ = time_steps(lambda out: forward(variables, x + 0 * out.sum()), forward(variables, x), warmup, steps,
                                REPEATS)
    return {"framework": "snnjax", "workload": workload.name, "mode": mode, "batch": batch,
            "T": _time_steps(workload), "ms_per_step": round(1000 * seconds, 3),
            "samples_per_s": round(batch / seconds, 1), "peak_mem_MiB": peak_memory_mib(), **finite, **device_record()}


POOL_BATCHES = 8  # distinct batches the loop records cycle through


def loop_record(workload: Workload, batch: int, loop: str, steps: int, warmup: int, impl: str,
                steps_per_call: int) -> dict[str, Any]:
    """Train throughput of the host loop or the device loop, fed like ``train_lib`` feeds them."""
    from snnjax.tool import device_loop
    from snnjax.data.dataset import ArraySplit

    config, model, mesh, tx, schedule, state = _setup(workload, impl)
    step = train_step_of(config, model, tx, schedule)
    pool = batch * POOL_BATCHES
    split = ArraySplit(*random_batch(workload, pool))
    order = np.arange((warmup + steps) * batch, dtype=np.int32) % pool
    finite = []  # every timed step's metrics["finite"], read after the timing (no sync inside it)
    if loop == "host":
        jitted = train_steps.jit_train_step(step, mesh)

        def run(state, start, n):
            load = lambda i: pipeline.load_batch(split, pipeline.train_batch_indices(order, i, batch), 0)  # noqa: E731
            for x, y in pipeline.prefetch(load, range(start, start + n)):
                state, metrics = jitted(state, *pipeline.shard_batch((x, y), mesh))
                finite.append(metrics["finite"])
            return state
    else:
        call = device_loop.make_train_call(step, mesh, batch, steps_per_call, 1.0)
        x_all, y_all = device_loop.put_replicated(device_loop.HostArrays(split.x, split.y), mesh)
        order_dev = device_loop.put_replicated_array(order, mesh)

        def run(state, start, n):
            for first in range(start, start + n, steps_per_call):
                k = min(steps_per_call, start + n - first)
                state, metrics = call(state, x_all, y_all, order_dev, np.int32(first), np.int32(k))
                finite.append(metrics["finite"][:k])  # a call stops after a non-finite step: zeros after it
            return state

    state = run(state, 0, warmup)
    window, _ = time_steps(lambda s: run(s, warmup, steps), state, 0, 1, REPEATS)  # each window: the same batches
    seconds = window / steps
    return {"framework": "snnjax", "workload": workload.name, "mode": "train", "loop": loop,
            "steps_per_call": steps_per_call if loop == "device" else 1, "batch": batch,
            "T": _time_steps(workload), "ms_per_step": round(1000 * seconds, 3),
            "samples_per_s": round(batch / seconds, 1), "peak_mem_MiB": peak_memory_mib(),
            "all_finite": all(bool(np.all(f)) for f in finite), **device_record()}


def _time_steps(workload: Workload) -> int:
    if workload.config.model.arch == "sequence":
        return int(np.prod(workload.input_shape[:2]))
    return int(workload.config.model.time_steps)


# the peer frameworks of --peer: module (available(), run()) and what it needs installed
PEERS = {"spikingjelly": (peer_spikingjelly, "torch and spikingjelly"), "spyx": (peer_spyx, "spyx")}


def peer_record(workload: Workload, batch: int, mode: str, steps: int,
                framework: str = "spikingjelly") -> dict[str, Any] | None:
    """The same workload, layer for layer, in a peer framework (None for a workload it has no peer for)."""
    result = PEERS[framework][0].run(workload, batch, steps, train=mode == "train", repeats=REPEATS)
    if result is None:
        return None
    return {"framework": framework, "workload": workload.name, "mode": mode, "batch": batch,
            "T": _time_steps(workload), **result}


def resized(workload: Workload, batch: int | None = None, time_steps: int | None = None,
            scan: str | None = None, unroll: str | None = None) -> Workload:
    """``workload`` at one batch size and/or another T (the seed nets' steps, the sequence length),
    for a sequence net ``scan`` (``model.scan``: ``"layer"`` or ``"step"``), and with ``unroll``
    (``model.neuron.unroll``: ``"auto"`` or an int as a string)."""
    if unroll is not None:
        config = workload.config.copy_and_resolve_references()
        config.model.neuron.unroll = unroll if unroll == "auto" else int(unroll)
        workload = dataclasses.replace(workload, name=f"{workload.name}[unroll={unroll}]", config=config)
    if scan is not None and workload.config.model.arch == "sequence":
        config = workload.config.copy_and_resolve_references()
        config.model.scan = scan
        workload = dataclasses.replace(workload, name=f"{workload.name}[scan={scan}]" if scan != "layer" else
                                       workload.name, config=config)
    if batch is not None:
        workload = dataclasses.replace(workload, batch_sizes=(batch,))
    if time_steps is not None:
        if workload.config.model.arch == "sequence":  # the pixel encoder runs one step per pixel
            workload = dataclasses.replace(workload, input_shape=(time_steps, 1, 1))
        else:
            config = workload.config.copy_and_resolve_references()
            config.model.time_steps = time_steps
            workload = dataclasses.replace(workload, config=config)
    return workload


def records(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    wanted = (args.peer or list(PEERS)) if args.peer is not None else []
    peer = [name for name in wanted if PEERS[name][0].available()]
    for name in wanted:
        if name not in peer:
            yield {"note": f"peer {name} needs {PEERS[name][1]} importable; "
                           + ("skipped" if peer else "running snnjax only")}
    for base in workloads(quick=args.quick):
        if args.only and base.name not in args.only:
            continue
        if args.unroll:  # the A/B of neuron.unroll instead of the plain records
            yield from _unroll_records(args, base)
            continue
        scans = (args.scan or [None]) if base.config.model.arch == "sequence" else [None]
        by_scan = {}
        for scan in scans:  # each line printed as it comes (a run cut by a timeout keeps them)
            by_scan[scan] = []
            for record in _workload_records(args, resized(base, args.batch, args.T, scan),
                                            peer if scan in (None, "layer") else []):
                by_scan[scan].append(record)
                yield record
        if {"layer", "step"} <= set(by_scan):
            yield from _scan_ratios(base.name, by_scan["layer"], by_scan["step"])


def _unroll_records(args: argparse.Namespace, base: Workload) -> Iterator[dict[str, Any]]:
    """Train and eval of ``base`` at each ``--unroll`` value, alternated ``REPEATS`` times (the
    fastest of each kept), then ``unroll <v>/<first>`` samples/s ratios."""
    sized = {u: resized(base, args.batch, args.T, unroll=u) for u in args.unroll}
    steps = args.steps or (2 if args.quick else 10)
    best: dict[tuple[str, str, int], dict[str, Any]] = {}
    for _ in range(REPEATS):
        for u, workload in sized.items():
            for batch in workload.batch_sizes:
                for mode in ("train", "eval"):
                    r = snnjax_record(workload, batch, mode, steps, warmup=1, impl=args.impl)
                    if (u, mode, batch) not in best or r["samples_per_s"] > best[(u, mode, batch)]["samples_per_s"]:
                        best[(u, mode, batch)] = r
    yield from best.values()
    first = args.unroll[0]
    for (u, mode, batch), r in best.items():
        if u != first:
            yield {"ratio": f"unroll {u}/{first} {base.name} {mode} batch {batch}",
                   "samples_per_s_ratio": round(r["samples_per_s"] / best[(first, mode, batch)]["samples_per_s"], 2)}


def _scan_ratios(name: str, layer: list[dict], step: list[dict]) -> Iterator[dict[str, Any]]:
    """``step/layer`` samples/s of the same mode (and loop) and batch."""
    def key(r):
        return r.get("mode"), r.get("loop"), r.get("batch")

    per_layer = {key(r): r for r in layer if r.get("framework") == "snnjax"}
    for r in step:
        base = per_layer.get(key(r)) if r.get("framework") == "snnjax" else None
        if base:
            yield {"ratio": f"scan step/layer {name} {r['mode']} batch {r['batch']}",
                   "samples_per_s_ratio": round(r["samples_per_s"] / base["samples_per_s"], 2)}


def _workload_records(args: argparse.Namespace, workload: Workload, peers: list[str]) -> Iterator[dict[str, Any]]:
    for batch in workload.batch_sizes:
        if args.loop:
            steps = args.steps or (32 if args.quick else 128)
            timed = {loop: loop_record(workload, batch, loop, steps, warmup=args.steps_per_call, impl=args.impl,
                                       steps_per_call=args.steps_per_call) for loop in args.loop}
            if "device" in timed and not timed["device"]["all_finite"]:
                # the device loop stops a call at a non-finite step (as train.py must): its time is
                # not that of the steps asked for, so it gives no figure
                yield {"note": f"{workload.name} batch {batch}: a train step on the benchmark's random batches was "
                               "not finite (NaN/inf gradient), so the device loop stopped early; no device-loop figure"}
                del timed["device"]
            yield from timed.values()
            if {"host", "device"} <= set(timed):
                yield {"ratio": f"device/host loop {workload.name} train batch {batch}",
                       "samples_per_s_ratio": round(timed["device"]["samples_per_s"]
                                                    / timed["host"]["samples_per_s"], 2)}
            for framework in peers:
                theirs = peer_record(workload, batch, "train", steps, framework)
                if theirs is not None:  # their bare step: an upper bound on their own loop's speed
                    yield theirs
                    for loop, ours in timed.items():
                        yield {"ratio": f"snnjax {loop} loop/{framework} step {workload.name} train batch {batch}",
                               "samples_per_s_ratio": round(ours["samples_per_s"] / theirs["samples_per_s"], 2)}
            continue
        for mode in ("train", "eval"):
            steps = args.steps or (2 if args.quick else 20)
            ours = snnjax_record(workload, batch, mode, steps, warmup=1 if args.quick else 3, impl=args.impl)
            yield ours
            for framework in peers:
                theirs = peer_record(workload, batch, mode, steps, framework)
                if theirs is not None:
                    yield theirs
                    yield {"ratio": f"snnjax/{framework} {workload.name} {mode} batch {batch}",
                           "samples_per_s_ratio": round(ours["samples_per_s"] / theirs["samples_per_s"], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a CPU check (under a minute)")
    parser.add_argument("--peer", nargs="*", choices=tuple(PEERS),
                        help="also time the same nets in these peers (all of them when none is named: "
                             "SpikingJelly and Spyx, each where installed)")
    parser.add_argument("--only", nargs="*", help="workload names to run")
    parser.add_argument("--steps", type=int, default=0, help="timed steps per record")
    parser.add_argument("--impl", default="scan", choices=("scan", "pallas"), help="neuron implementation")
    parser.add_argument("--batch", type=int, help="one batch size instead of the workloads' own")
    parser.add_argument("--T", type=int, help="time steps: the seed nets' T, the sequence nets' length")
    parser.add_argument("--loop", nargs="+", choices=("host", "device"),
                        help="time the train loops instead of a bare step: host, device, or both")
    parser.add_argument("--steps_per_call", type=int, default=16, help="device loop: steps per dispatch")
    parser.add_argument("--scan", nargs="+", choices=("layer", "step"),
                        help="sequence nets: per-layer scans, one whole-net scan per step, or both")
    parser.add_argument("--unroll", nargs="+",
                        help="also time train and eval at these neuron.unroll values ('auto' or ints), "
                             "alternated in one process, with ratios to the first")
    parser.add_argument("--memory", action="store_true",
                        help="instead: the train step's compiled memory analysis and median step time, remat off "
                             "and on, Seq-MNIST CE-LIF at T = 784 and the seed net at T = 8, 32 (bench/memory.py)")
    parser.add_argument("--remat", type=int, help="--memory: model.remat's k (default about sqrt(T))")
    parser.add_argument("--repeats", type=int, default=5, help="--memory: interleaved timing rounds (median)")
    parser.add_argument("--host_malloc", choices=host_malloc.MODES, default=None,
                        help="retain: reuse freed host memory in this process, peers included "
                             f"(snnjax/tool/host_malloc.py); default: malloc as it is (default: ${host_malloc.ENV}, "
                             "else default)")
    args = parser.parse_args(argv)
    host_malloc.retain_freed_memory(args.host_malloc)  # before the first computation
    if args.batch is not None and (args.batch < 1 or args.batch % jax.device_count()):
        parser.error(f"--batch must be a positive multiple of the {jax.device_count()} devices, got {args.batch}")
    for u in args.unroll or []:
        if u != "auto" and not (u.isdigit() and int(u) >= 1):
            parser.error(f"--unroll takes 'auto' or positive ints, got {u!r}")
    if args.T is not None and args.T < 1:
        parser.error(f"--T must be at least 1, got {args.T}")
    if args.memory:
        from bench import memory

        found = memory.memory_records(args.batch, args.remat, args.repeats, args.steps or 2)
    else:
        found = records(args)
    for record in found:
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
