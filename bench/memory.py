"""Memory against T (issue 33 §2): XLA's compiled memory analysis of the real train step, remat off and on.

    python -m bench.run --memory                          # the table of docs/performance.md
    python -m bench.run --memory --batch 64 --repeats 5   # another batch, more timed repeats
    python -m bench.memory_plot                           # temporary memory against T: docs/remat_memory.png

Each case is the train step ``train.py`` runs (:func:`snnjax.tool.train_steps.make_train_step`:
forward, loss, backward, Adam, NaN guard), jitted with the state donated, lowered and compiled once;
``compiled.memory_analysis()`` gives what XLA allocates for it: ``temp`` (every intermediate the
step keeps alive at once, the residuals of the backward pass among them: what grows with T),
``argument`` (state and batch) and ``output`` (the new state and the metrics). These are exact and
do not depend on the machine's load. The step time is the median over ``repeats`` rounds in which
every case runs ``steps`` steps in turn (remat off and on interleaved in one process, so a load
change on a shared machine falls on all cases alike).

The cases: the Seq-MNIST CE-LIF net (``configs/ce_lif_seq_mnist.py``, [64, 152, 152], T = 784) with
the per-layer scans (the training default), its per-step scan, ``neuron.remat`` = k (each layer's
loop stored every k steps), ``model.remat`` = 1 and k (the per-step scan stored every step / every k
steps, :func:`snnjax.core.scan.time_scan`) and both switches; the seed conv net
(``bench/workloads.py``'s ``seed_bn_lif``) at T = 8 and 32 with ``neuron.remat`` off, 1 and ≈ √T (it
has no per-step scan, so ``model.remat`` does not apply to it).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import ml_collections

from bench.timing import device_record
from bench.workloads import Workload, random_batch, workloads
from snnjax import models
from snnjax.tool import input_pipeline as pipeline
from snnjax.tool import optim, train_steps

SEQ_T = 784
SEED_T = (8, 32)
SEQ_BATCH = 256  # the paper's batch (configs/ce_lif_seq_mnist.py)
SEED_BATCH = 16


@dataclasses.dataclass(frozen=True)
class Case:
    """One train step to measure: a workload at one T and batch, and its remat switches."""

    workload: Workload
    T: int
    batch: int
    scan: str = "auto"  # sequence nets' model.scan
    neuron_remat: int = 0
    model_remat: int = 0

    @property
    def label(self) -> str:
        switches = [f"scan={self.scan}"] if self.scan != "auto" else []
        switches += [f"neuron.remat={self.neuron_remat}"] * bool(self.neuron_remat)
        switches += [f"model.remat={self.model_remat}"] * bool(self.model_remat)
        return f"{self.workload.name} T={self.T} " + (" + ".join(switches) or "remat off")

    def config(self) -> ml_collections.ConfigDict:
        config = self.workload.config.copy_and_resolve_references()
        config.model.neuron.remat = self.neuron_remat
        if config.model.arch == "sequence":
            config.model.scan, config.model.remat = self.scan, self.model_remat
        else:
            config.model.time_steps = self.T
        return config

    def input_shape(self) -> tuple[int, ...]:
        if self.workload.config.model.arch == "sequence":  # the pixel encoder: one step per pixel
            return (self.T, 1, 1)
        return self.workload.input_shape


def sqrt_remat(steps: int) -> int:
    """k ≈ √T: what :func:`snnjax.core.scan.time_scan` stores, ``(T/k)·c + k·r``, is least near
    ``k = √(T·r/c)``; the per-step residuals ``r`` and the carry ``c`` are of the same order here."""
    return max(2, round(math.sqrt(steps)))


def seq_mnist_workload() -> Workload:
    """The Seq-MNIST CE-LIF net exactly as ``configs/ce_lif_seq_mnist.py`` trains it."""
    from configs import ce_lif_seq_mnist

    return Workload("ce_lif_seq_mnist", ce_lif_seq_mnist.get_config(), (SEQ_BATCH,), (28, 28, 1))


def sequence_cases(steps: int, batch: int, remat: int | None = None) -> list[Case]:
    """The Seq-MNIST net at T = ``steps``: every remat switch and schedule (module docstring)."""
    k = remat or sqrt_remat(steps)
    w = seq_mnist_workload()
    return [Case(w, steps, batch), Case(w, steps, batch, scan="step"), Case(w, steps, batch, neuron_remat=k),
            Case(w, steps, batch, model_remat=1), Case(w, steps, batch, model_remat=k),
            Case(w, steps, batch, neuron_remat=k, model_remat=k)]


def seed_cases(steps: Sequence[int], batch: int) -> list[Case]:
    seed = next(w for w in workloads() if w.name == "seed_bn_lif")
    return [Case(seed, t, batch, neuron_remat=r) for t in steps for r in (0, 1, sqrt_remat(t))]


def compiled_step(case: Case, mesh) -> tuple[Any, Any, tuple]:
    """``(compiled train step, state, (x, y))`` of ``case``: jitted as ``train.py`` jits it
    (:func:`snnjax.tool.train_steps.jit_train_step`), then lowered and compiled for one batch."""
    config = case.config()
    model = models.build_model(config.model, case.workload.num_classes)
    tx, schedule = optim.make_optimizer(config.optim, steps_per_epoch=1000, num_epochs=1)
    state = train_steps.create_train_state(model, tx, case.input_shape(), jax.random.PRNGKey(0), mesh)
    step = train_steps.make_train_step(model, tx, schedule, config.loss, "classification", jax.random.PRNGKey(1),
                                       keep_last_good=False)
    batch = pipeline.shard_batch(random_batch(dataclasses.replace(case.workload, input_shape=case.input_shape()),
                                              case.batch), mesh)
    compiled = train_steps.jit_train_step(step, mesh).lower(state, *batch).compile()
    return compiled, state, batch


def memory_fields(compiled) -> dict[str, int]:
    """XLA's memory analysis of a compiled program: temporary, argument and output bytes."""
    analysis = compiled.memory_analysis()
    return {name: int(getattr(analysis, f"{name}_size_in_bytes")) for name in ("temp", "argument", "output")}


def records(cases: Sequence[Case], repeats: int = 5, steps: int = 2, timed: bool = True) -> Iterator[dict[str, Any]]:
    """One record per case: its memory analysis and (``timed``) the median seconds per step over
    ``repeats`` interleaved rounds of ``steps`` steps each, after one warm-up step per case."""
    mesh = pipeline.make_mesh()
    built = []
    for case in cases:
        start = time.perf_counter()
        compiled, state, batch = compiled_step(case, mesh)
        built.append([case, compiled, state, batch, memory_fields(compiled), time.perf_counter() - start, []])
    if timed:
        for entry in built:  # warm-up
            entry[2] = jax.block_until_ready(entry[1](entry[2], *entry[3])[0])
        for _ in range(repeats):
            for entry in built:
                compiled, state, batch = entry[1:4]
                start = time.perf_counter()
                for _ in range(steps):
                    state = compiled(state, *batch)[0]
                entry[2] = jax.block_until_ready(state)
                entry[6].append((time.perf_counter() - start) / steps)
    for case, _, _, _, memory, compile_s, times in built:
        record = {"memory": case.label, "workload": case.workload.name, "T": case.T, "batch": case.batch,
                  "scan": case.scan, "neuron_remat": case.neuron_remat, "model_remat": case.model_remat,
                  **{f"{k}_size_in_bytes": v for k, v in memory.items()},
                  "temp_MiB": round(memory["temp"] / 2**20, 1), "compile_s": round(compile_s, 1)}
        if times:
            record.update(ms_per_step_median=round(1000 * statistics.median(times), 1),
                          ms_per_step_all=[round(1000 * t, 1) for t in times])
        yield {**record, **device_record()}


def ratios(rows: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each remat case against the same workload and T with remat off: temporary memory cut and step time."""
    base = {(r["workload"], r["T"]): r for r in rows
            if not r["neuron_remat"] and not r["model_remat"] and r["scan"] == "auto"}
    for r in rows:
        b = base.get((r["workload"], r["T"]))
        if b is None or r is b:
            continue
        out = {"ratio": f"{r['memory']} / remat off", "temp_cut": round(b["temp_size_in_bytes"] / r["temp_size_in_bytes"], 2)}
        if "ms_per_step_median" in r and "ms_per_step_median" in b:
            out["time_ratio"] = round(r["ms_per_step_median"] / b["ms_per_step_median"], 2)
        yield out


def memory_records(batch: int | None = None, remat: int | None = None, repeats: int = 5,
                   steps: int = 2) -> Iterator[dict[str, Any]]:
    """``bench.run --memory``: the sequence net at T = 784, then the seed net at T = 8 and 32, each
    group's records followed by its ratios to remat off."""
    for cases in (sequence_cases(SEQ_T, batch or SEQ_BATCH, remat), seed_cases(SEED_T, batch or SEED_BATCH)):
        rows = list(records(cases, repeats, steps))
        yield from rows
        yield from ratios(rows)
