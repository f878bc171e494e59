"""What keeping freed host memory (``snnjax.tool.host_malloc``) does to a CPU train step.

    python -m bench.host_malloc                          # seed net (T = 8, b16) and Seq-MNIST PLIF/CE-LIF (T = 784, b32)
    python -m bench.host_malloc --only seed_bn_lif --steps 5 --repeats 3
    python -m bench.host_malloc --quick                  # tiny sizes: a check that it runs

The mode is set once per process, before JAX starts, so each measurement is a child process of this
command, the modes alternated (``default``, ``retain``, ``default``, ...) ``--repeats`` times per
workload. A child builds the workload's real train step (as ``bench.run`` does), runs ``--warmup``
steps, then times ``--steps`` steps and prints one JSON line: ms per step, minor page faults per step
and kernel (system) CPU seconds per step from ``getrusage``, the resident memory at the end, and
whether the steps stayed finite on the random batches. The
parent prints every child's line and then, per workload, a summary line: each mode's fastest
window and faults, and the ratio of the two step times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from snnjax.tool import host_malloc

MODES = host_malloc.MODES  # measured in this order: default, then retain


def _resident_mib() -> float:
    with open("/proc/self/statm") as f:
        return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def child(mode: str, workload_name: str, batch: int | None, time_steps: int | None, quick: bool, steps: int,
          warmup: int) -> dict[str, Any]:
    """One measurement in this process: ``mode`` is applied first (before JAX computes anything)."""
    applied = host_malloc.retain_freed_memory(mode)
    import resource

    import jax

    from bench.run import _setup, resized, train_step_of
    from bench.timing import device_record
    from bench.workloads import random_batch, workloads
    from snnjax.tool import input_pipeline as pipeline
    from snnjax.tool import train_steps

    workload = next(w for w in workloads(quick) if w.name == workload_name)
    workload = resized(workload, batch, time_steps)
    batch = workload.batch_sizes[0]
    config, model, mesh, tx, schedule, state = _setup(workload, "scan")
    x, y = pipeline.shard_batch(random_batch(workload, batch), mesh)
    step = train_steps.jit_train_step(train_step_of(config, model, tx, schedule), mesh)
    for _ in range(warmup):
        state = step(state, x, y)[0]
    jax.block_until_ready(state)
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(steps):
        state = step(state, x, y)[0]
    jax.block_until_ready(state)
    seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    finite = bool(step(state, x, y)[1]["finite"])  # one more step, untimed
    return {"workload": workload_name, "batch": batch, "mode": mode, "applied": applied,
            "ms_per_step": round(1000 * seconds / steps, 2),
            "page_faults_per_step": round((after.ru_minflt - before.ru_minflt) / steps),
            "system_s_per_step": round((after.ru_stime - before.ru_stime) / steps, 4),
            "resident_MiB": _resident_mib(), "all_finite": finite, **device_record()}


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per mode the fastest record's step time and faults; ``retain_speedup`` = default / retain."""
    best = {m: min((r for r in records if r["mode"] == m), key=lambda r: r["ms_per_step"]) for m in MODES}
    out = {"summary": records[0]["workload"], "batch": records[0]["batch"]}
    for m in MODES:
        out.update({f"{m}_ms_per_step": best[m]["ms_per_step"], f"{m}_page_faults_per_step": best[m]["page_faults_per_step"],
                    f"{m}_resident_MiB": best[m]["resident_MiB"]})
    out["retain_speedup"] = round(best["default"]["ms_per_step"] / best["retain"]["ms_per_step"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=["seed_bn_lif", "seq_plif", "seq_ce_lif"], help="workload names")
    parser.add_argument("--batch", type=int, help="batch size (default: 16 for the seed nets, 32 for the sequence nets)")
    parser.add_argument("--T", type=int, help="time steps (default: the workload's own)")
    parser.add_argument("--quick", action="store_true", help="the workloads' --quick sizes")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="steps before the timed ones (the first compiles)")
    parser.add_argument("--repeats", type=int, default=2, help="processes per mode and workload")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        for name in args.only:
            print(json.dumps(child(args.child, name, args.batch, args.T, args.quick, args.steps, args.warmup)), flush=True)
        return 0
    for name in args.only:
        batch = args.batch or (None if args.quick else (32 if name.startswith("seq") else 16))
        records = []
        for _ in range(args.repeats):
            for mode in MODES:
                cmd = [sys.executable, "-m", "bench.host_malloc", "--child", mode, "--only", name,
                       "--steps", str(args.steps), "--warmup", str(args.warmup)]
                cmd += ["--quick"] if args.quick else []
                cmd += ["--batch", str(batch)] if batch else []
                cmd += ["--T", str(args.T)] if args.T else []
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                record = json.loads(done.stdout.strip().splitlines()[-1])
                records.append(record)
                print(json.dumps(record), flush=True)
        print(json.dumps(summary(records)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
