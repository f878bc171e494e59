"""Keep freed host memory for reuse (glibc ``mallopt``): an opt-in for a jitted step per batch on a CPU.

Why. XLA:CPU allocates an execution's buffers (its temporaries and outputs) afresh at every call
and frees them at its end. glibc serves blocks above its mmap threshold (at most 32 MiB), and every
block of a thread's secondary arena that outgrows a 64 MiB heap, with ``mmap``, and gives them back
with ``munmap`` when freed, so each call touches its whole working set in new pages: the seed net
(``bench/workloads.py``, T = 8, batch 16) took ~74,000 minor page faults per train step on the
2-core CPU, about 290 MiB, and a quarter of the step's CPU time went to the kernel.

What. Three ``mallopt`` settings, made once, before JAX starts its CPU client:

- ``M_ARENA_MAX = 1``: every thread allocates from the main arena (XLA's worker threads would
  otherwise each get a secondary arena, where the large blocks are mmapped regardless);
- ``M_MMAP_MAX = 0``: no block is served by ``mmap``; all come from the heap;
- ``M_TRIM_THRESHOLD = 2**31 - 1``: freed memory at the top of the heap is kept, not returned.

The heap then grows to a step's peak once and is reused: no page faults in steady state. The
values computed are unchanged (only where their buffers come from).

When. It pays where the host dispatches one jitted step per batch: a loop of your own around a
jitted train step, ``train.py`` with ``train.loop = "host"``, ``bench.run``'s bare steps
(``python -m bench.host_malloc`` measures it: on the 2-core CPU the seed net's step ran ~1.3x and
the Seq-MNIST CE-LIF net's ~1.6x faster, the seed net's process holding ~1.5x the resident memory).
It does not pay in ``train.py``'s device loop, the default on a CPU: there one call runs many steps,
so its buffers are allocated once per call already, and in one Seq-MNIST measurement the loop ran
slower with it and the process's peak resident memory grew 2.5-3x (the heap fragments, and the
freed memory is kept). So it is off unless asked for: ``SNNJAX_HOST_MALLOC=retain``, read by
``train.py`` and ``bench.run`` (``--host_malloc``), or call :func:`retain_freed_memory` with
``"retain"`` first thing in your program (before JAX's first computation: later, XLA's threads
hold their arenas already and it changes little). The process keeps its peak memory for its life.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

# mallopt's parameter numbers (glibc's malloc.h).
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
SETTINGS = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1))
ENV = "SNNJAX_HOST_MALLOC"
MODES = ("default", "retain")

_applied = False


def applied() -> bool:
    """Whether :func:`retain_freed_memory` has applied the settings in this process."""
    return _applied


def _glibc():
    """The C library if it is glibc (``mallopt`` with these parameters), else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def retain_freed_memory(mode: str | None = None) -> bool:
    """Applies :data:`SETTINGS` with ``mallopt`` when ``mode`` is ``"retain"``; returns whether
    they are in effect in this process.

    Args:
        mode: ``"retain"`` (apply) or ``"default"`` (leave malloc alone); ``None`` reads
            ``SNNJAX_HOST_MALLOC``, ``"default"`` when it is unset.

    Raises:
        ValueError: ``mode`` (or the environment variable) is none of :data:`MODES`.

    Nothing is applied off Linux/glibc (macOS, musl): there this returns False.
    """
    global _applied
    mode = (mode if mode is not None else os.environ.get(ENV, "default")).strip().lower()
    if mode not in MODES:
        raise ValueError(f"{ENV} must be one of {', '.join(MODES)}, got {mode!r}")
    libc = _glibc() if mode == "retain" else None
    if libc is None:
        return _applied
    _applied = all(libc.mallopt(param, value) == 1 for param, value in SETTINGS)
    return _applied
