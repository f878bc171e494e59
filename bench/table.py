"""Markdown tables from ``bench.run`` JSON lines, and the one command behind docs/performance.md.

    python -m bench.table results.jsonl ...         # or JSON lines on stdin
    python -m bench.table --cpu-doc                 # runs the CPU table of docs/performance.md
    python -m bench.table --cpu-doc --quick         # the same at --quick sizes (a minute or two)
    python -m bench.table --cpu-doc --host_malloc retain    # reusing freed host memory (snnjax/tool/host_malloc.py)
    python -m bench.table default.jsonl retain.jsonl        # one table of both, a row per malloc mode

``--cpu-doc`` times, in one process, the issue-12 CPU workloads with their peers (SpikingJelly and
Spyx, each where installed): the seed net (``seed_bn_lif``) at T = 8, batch 16 (the bare step,
eval, and both training loops) and the Seq-MNIST CE-LIF net (``seq_ce_lif``) at T = 784, batch 32,
train and eval, float32. It prints every JSON line to ``--jsonl`` (if given) and the table to
stdout. Each row's ratios are snnjax / peer samples per second, both timed in one process under
the same host-malloc mode (the ``malloc`` column: ``default``, or ``retain``: freed host memory
reused, :mod:`snnjax.tool.host_malloc`), which applies to the whole process, peers included.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from typing import Any, Iterable

from snnjax.tool import host_malloc

# (workload, batch, T, loops) of the CPU table: the bare step and eval forward of each workload, and
# for the seed net also the two training loops (train.loop), which train.py runs
CPU_DOC_RUNS = [("seed_bn_lif", 16, 8, None), ("seed_bn_lif", 16, 8, ("host", "device")), ("seq_ce_lif", 32, 784, None)]
CPU_DOC_LOOP_STEPS = 16  # timed steps of a loop record (one device-loop call of 16 steps), unless --steps


PEER_NAMES = {"spikingjelly": "SpikingJelly", "spyx": "Spyx"}  # column titles, in column order


def table(records: Iterable[dict[str, Any]], impl: str = "scan") -> str:
    """One row per snnjax record (workload, mode, batch, T, loop, impl): its samples/s and, per peer
    framework present in ``records``, the peer's samples/s for the same workload, mode, batch and T
    and our/their ratio; notes at the end. ``impl`` names the neuron implementation of records that
    do not say (``bench.run --impl``'s). ``loop`` is ``step`` for a bare train step or eval forward,
    else the loop timed (``bench.run --loop``). Records tagged with a ``run`` (one ``bench.run``
    call of :func:`cpu_doc`) pair with the peer records of the same run; ``malloc`` is the record's
    ``host_malloc`` mode (``default`` where it does not say), and records pair only within one mode."""
    ours: dict[tuple, dict[str, Any]] = {}
    peers: dict[tuple, dict[str, Any]] = {}
    frameworks: list[str] = []
    notes = []
    for r in records:
        if "note" in r:
            notes.append(r["note"])
        if "framework" not in r:
            continue
        key = (r["workload"], r["mode"], r["batch"], r.get("T"))
        malloc = r.get("host_malloc", "default")
        if r["framework"] == "snnjax":
            ours[key + (r.get("loop", "step"), r.get("impl", impl), malloc)] = r
        else:
            peers[key + (r.get("run"), malloc, r["framework"])] = r
            if r["framework"] not in frameworks:
                frameworks.append(r["framework"])
    order = list(PEER_NAMES)
    frameworks = sorted(frameworks or ["spikingjelly"], key=lambda f: order.index(f) if f in order else len(order))
    titles = "".join(f" {PEER_NAMES.get(f, f)} samples/s | ratio |" for f in frameworks)
    lines = ["| workload | mode | batch | T | loop | impl | malloc | snnjax samples/s |" + titles,
             "| --- | --- | --- | --- | --- | --- | --- | ---: |" + " ---: | ---: |" * len(frameworks)]
    for key, r in ours.items():
        cells = []
        for framework in frameworks:
            peer = peers.get(key[:4] + (r.get("run"), key[6], framework))
            cells += [f"{peer['samples_per_s']:g}", f"{r['samples_per_s'] / peer['samples_per_s']:.2f}×"] if peer \
                else ["–", "–"]
        lines.append("| " + " | ".join(map(str, key)) + f" | {r['samples_per_s']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines + [f"\nnote: {n}" for n in notes])


def _read(paths: list[str]) -> list[dict[str, Any]]:
    streams = [open(p) for p in paths] if paths else [sys.stdin]
    out = []
    for stream in streams:
        for line in stream:
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


def cpu_doc(quick: bool, steps: int | None, jsonl: str | None, host_malloc: str | None = None) -> list[dict[str, Any]]:
    """Runs ``bench.run --peer`` for each of :data:`CPU_DOC_RUNS` in this process (``host_malloc``:
    its ``--host_malloc``, applied before the first run computes anything); its JSON lines."""
    from bench import run

    records = []
    for run_index, (workload, batch, time_steps, loops) in enumerate(CPU_DOC_RUNS):
        argv = ["--peer", "--only", workload]
        argv += ["--quick"] if quick else ["--batch", str(batch), "--T", str(time_steps)]
        argv += ["--loop", *loops] if loops else []
        n = steps or (CPU_DOC_LOOP_STEPS if loops else None)
        argv += ["--steps", str(n)] if n else []
        argv += ["--host_malloc", host_malloc] if host_malloc else []
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            run.main(argv)
        records += [{**json.loads(line), "run": run_index} for line in out.getvalue().splitlines()
                    if line.startswith("{")]
    if jsonl:
        with open(jsonl, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
    return records


def jax_peers_table(records: Iterable[dict[str, Any]]) -> str:
    """The JAX peers' table (``bench.peer_jaxpike``, ``bench.peer_brainpy``): one row per record, its
    ``path`` (which snnjax net or peer runner / neuron), samples/s, and the fastest snnjax record's
    samples/s of the same workload, mode, batch, T and host-malloc mode divided by this record's
    (so a peer row's ratio is snnjax's lead over it), and its XLA temporary memory where recorded
    (``temp_MiB``). Records pair only within one file's process: pass each peer's file on its own,
    or both when they come from one machine and session."""
    records = [r for r in records if "framework" in r or "note" in r]
    notes = [r["note"] for r in records if "note" in r]
    rows = sorted((r for r in records if "framework" in r),  # by case, train before eval, snnjax first
                  key=lambda r: (r["workload"], r.get("T") or 0, r["batch"], r["mode"] != "train", r["framework"] != "snnjax"))
    key = lambda r: (r["workload"], r["mode"], r["batch"], r.get("T"), r.get("host_malloc", "default"))  # noqa: E731
    best: dict[tuple, float] = {}
    for r in rows:
        if r["framework"] == "snnjax":
            best[key(r)] = max(best.get(key(r), 0.0), r["samples_per_s"])
    memory = any(r.get("temp_MiB") is not None for r in rows)
    lines = ["| workload | mode | batch | T | framework | path | samples/s | fastest snnjax / this |"
             + (" XLA temp MiB |" if memory else ""),
             "| --- | --- | ---: | ---: | --- | --- | ---: | ---: |" + (" ---: |" if memory else "")]
    for r in rows:
        ours = best.get(key(r))
        ratio = f"{ours / r['samples_per_s']:.2f}×" if ours else "–"
        path = r.get("path", "bench.run" if r["framework"] == "snnjax" else "")  # train.py's step / eval forward
        temp = r.get("temp_MiB")
        lines.append(f"| {r['workload']} | {r['mode']} | {r['batch']} | {r.get('T')} | {r['framework']} | {path} | "
                     f"{r['samples_per_s']:g} | {ratio} |" + (f" {'–' if temp is None else f'{temp:g}'} |" if memory else ""))
    return "\n".join(lines + [f"\nnote: {n}" for n in notes])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="JSON-line files (default: stdin)")
    parser.add_argument("--cpu-doc", action="store_true", help="run the CPU table of docs/performance.md")
    parser.add_argument("--quick", action="store_true", help="with --cpu-doc: the workloads' --quick sizes")
    parser.add_argument("--steps", type=int, help="with --cpu-doc: timed steps per record (bench.run's default)")
    parser.add_argument("--jsonl", help="with --cpu-doc: also write the JSON lines here")
    parser.add_argument("--host_malloc", choices=host_malloc.MODES,
                        help="with --cpu-doc: bench.run's --host_malloc (default: as bench.run)")
    parser.add_argument("--impl", default="scan", help="the impl of records that do not name theirs (bench.run --impl)")
    parser.add_argument("--jax-peers", action="store_true",
                        help="FILES are bench.peer_jaxpike / bench.peer_brainpy JSON lines: one row per record")
    args = parser.parse_args(argv)
    if args.jax_peers:
        print(jax_peers_table(_read(args.files)))
        return 0
    records = cpu_doc(args.quick, args.steps, args.jsonl, args.host_malloc) if args.cpu_doc else _read(args.files)
    print(table(records, args.impl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
