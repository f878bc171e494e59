"""Where the test suite's time goes: per test, wall seconds and seconds of JAX tracing, lowering and
XLA compiling (a pytest plugin reading ``jax.monitoring``'s compile events).

    COMPILE_PROFILE=/tmp/profile.jsonl python -m pytest -q -n 2 -p bench.compile_profile
    python -m bench.compile_profile /tmp/profile.jsonl          # totals, then the costliest files

Each test appends one JSON line to ``$COMPILE_PROFILE`` (default ``compile_profile.jsonl``):
``test``, ``wall`` (setup + call + teardown) and the summed ``backend_compile_duration``,
``jaxpr_trace_duration`` and ``jaxpr_to_mlir_module_duration`` of the compiles it caused. With
``-n`` each worker appends its own lines. Tests that run JAX in a subprocess show no compile time,
nor do programs read from the session's persistent compilation cache (``tests/conftest.py``): what
is left is what XLA compiled.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time

import pytest

EVENTS = ("backend_compile_duration", "jaxpr_trace_duration", "jaxpr_to_mlir_module_duration")
_durations: dict[str, float] = {}


def _listener(event: str, duration: float, **_: object) -> None:
    name = event.rsplit("/", 1)[-1]
    if event.startswith("/jax/core/compile/") and name in EVENTS:
        _durations[name] = _durations.get(name, 0.0) + duration


def pytest_configure(config: pytest.Config) -> None:
    from jax import monitoring

    monitoring.register_event_duration_secs_listener(_listener)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    _durations.clear()
    start = time.perf_counter()
    yield
    record = {"test": item.nodeid, "wall": time.perf_counter() - start, **_durations}
    with open(os.environ.get("COMPILE_PROFILE", "compile_profile.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\n")


def summarize(path: str, most: int = 25) -> str:
    """Totals over the file's tests, then the ``most`` test files with the largest summed wall time."""
    records = [json.loads(line) for line in open(path)]
    total = lambda key: sum(r.get(key, 0.0) for r in records)  # noqa: E731
    lines = [f"{len(records)} tests: wall {total('wall'):.0f} s, XLA compile {total(EVENTS[0]):.0f} s, "
             f"trace + lower {total(EVENTS[1]) + total(EVENTS[2]):.0f} s"]
    files: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for r in records:
        f = files[r["test"].split("::")[0]]
        f[0] += r["wall"]
        f[1] += r.get(EVENTS[0], 0.0)
        f[2] += 1
    for name, (wall, compile_s, n) in sorted(files.items(), key=lambda kv: -kv[1][0])[:most]:
        lines.append(f"{wall:7.0f} s wall {compile_s:7.0f} s compile {n:4d} tests  {name}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(sys.argv[1] if len(sys.argv) > 1 else "compile_profile.jsonl"))
