"""Timing a jitted step on the accelerator: warm-up, then wall time over n steps after a sync."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from typing import Any, Callable

import jax

from snnjax.tool import host_malloc


def peak_memory_mib(device: jax.Device | None = None) -> float | None:
    """Peak device memory in MiB since the process started (None where the backend has no stats)."""
    device = device or jax.devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return round(stats["peak_bytes_in_use"] / 2**20, 1)


def time_steps(step: Callable[[Any], Any], carry: Any, warmup: int, steps: int,
               repeats: int = 1) -> tuple[float, Any]:
    """Seconds per call of ``carry = step(carry)``, measured after ``warmup`` calls: the fastest of
    ``repeats`` windows of ``steps`` calls (on a shared machine the slower windows are the ones that
    ran slow by chance).

    The carry threads through every call, so calls cannot overlap or be skipped; one
    ``block_until_ready`` at each end of a window keeps asynchronous dispatch out of the measurement.
    """
    for _ in range(warmup):
        carry = step(carry)
    jax.block_until_ready(carry)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            carry = step(carry)
        jax.block_until_ready(carry)
        best = min(best, (time.perf_counter() - start) / steps)
    return best, carry


def best_window(call: Callable[[], Any], sync: Callable[[Any], Any], warmup: int, steps: int,
                repeats: int = 1) -> float:
    """:func:`time_steps` for a stateful ``call()`` (a peer framework's step, which updates its own
    model and optimiser in place): ``sync(out)`` waits for its last output."""
    return time_steps(lambda _: sync(call()), None, warmup, steps, repeats)[0]


def host_malloc_record() -> dict[str, str]:
    """``{"host_malloc": "retain" | "default"}``: whether this process reuses freed host memory
    (:mod:`snnjax.tool.host_malloc`), which changes CPU step times for every framework in it."""
    return {"host_malloc": "retain" if host_malloc.applied() else "default"}


def device_record() -> dict[str, Any]:
    d = jax.devices()[0]
    return {"device": getattr(d, "device_kind", d.platform), "num_devices": jax.device_count(), "jax": jax.__version__,
            **host_malloc_record()}


def sizes_parser(description: str) -> argparse.ArgumentParser:
    """The ``--batch`` (16), ``--T`` (8) and ``--steps`` (10) options of the seed-net micro-benchmarks."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--T", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    return parser


def print_records(records: Iterable[dict[str, Any]], jsonl: str | None = None) -> None:
    """Prints each record as one JSON line as it comes (flushed), and also writes them to ``jsonl``."""
    sink = open(jsonl, "w") if jsonl else None
    try:
        for record in records:
            line = json.dumps(record)
            print(line, flush=True)
            if sink:
                sink.write(line + "\n")
    finally:
        if sink:
            sink.close()
