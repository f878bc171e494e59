"""Keep freed host memory for reuse (glibc ``mallopt``), so that XLA:CPU steps stop page-faulting.

Why. XLA:CPU allocates an execution's buffers (its temporaries and outputs) afresh at every call
and frees them at its end. glibc serves blocks above its mmap threshold (at most 32 MiB) and every
block of a thread's secondary arena that outgrows a 64 MiB heap with ``mmap`` and gives them back
with ``munmap`` when freed, so each step touches its whole working set in new pages: the seed net
(``bench/workloads.py``, T = 8, batch 16) took ~74,000 minor page faults per train step on the
2-core CPU, about 290 MiB, and a quarter of the step's CPU time went to the kernel.

What. Three ``mallopt`` settings, made once, before JAX starts its CPU client:

- ``M_ARENA_MAX = 1``: every thread allocates from the main arena (XLA's worker threads would
  otherwise each get a secondary arena, where the large blocks are mmapped regardless);
- ``M_MMAP_MAX = 0``: no block is served by ``mmap``; all come from the heap;
- ``M_TRIM_THRESHOLD = 2**31 - 1``: freed memory at the top of the heap is kept, not returned.

So the heap grows to the step's peak once and is reused from then on (no page faults in steady
state), and the process keeps that peak for its lifetime. The values computed are unchanged; only
where their buffers come from. PyTorch's CPU allocator goes through the same malloc, so a peer
framework in the same process gets the same effect (``bench.run --host_malloc``).

``train.py`` and ``bench.run`` call :func:`retain_freed_memory` first thing; set
``SNNJAX_HOST_MALLOC=default`` to leave malloc as it is. In your own program call it before the
first JAX computation (later, XLA's threads already hold their arenas and it changes little).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.metadata
import importlib.util
import os
import platform

# mallopt's parameter numbers (glibc's malloc.h).
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
SETTINGS = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1))
ENV = "SNNJAX_HOST_MALLOC"
MODES = ("auto", "retain", "default")


def _accelerator_plugin_installed() -> bool:
    """Whether a JAX accelerator plugin (CUDA, ROCm, TPU...) is installed: then JAX may run on it."""
    try:
        if list(importlib.metadata.entry_points(group="jax_plugins")):
            return True
    except Exception:  # noqa: BLE001 - a broken metadata entry must not stop a run
        pass
    return importlib.util.find_spec("libtpu") is not None


def runs_on_cpu() -> bool:
    """Whether JAX will compute on the CPU, judged without starting it: ``JAX_PLATFORMS`` names
    ``cpu`` first, or no accelerator plugin is installed."""
    platforms = os.environ.get("JAX_PLATFORMS", "").strip()
    if platforms:
        return platforms.split(",")[0].strip() == "cpu"
    return not _accelerator_plugin_installed()


def _glibc():
    """The C library if it is glibc (``mallopt`` with these parameters), else None."""
    if platform.system() != "Linux" or not platform.libc_ver()[0] == "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_applied = False


def applied() -> bool:
    """Whether :func:`retain_freed_memory` has applied the settings in this process."""
    return _applied


def retain_freed_memory(mode: str | None = None) -> bool:
    """Applies :data:`SETTINGS` with ``mallopt``; returns whether they were applied.

    Args:
        mode: ``"retain"`` (apply), ``"default"`` (leave malloc alone) or ``"auto"`` (apply when
            JAX will compute on the CPU, :func:`runs_on_cpu`: on a GPU host the big buffers live on
            the device). ``None`` reads ``SNNJAX_HOST_MALLOC``, ``"auto"`` when it is unset.

    Raises:
        ValueError: ``mode`` (or the environment variable) is none of :data:`MODES`.

    Nothing is applied off Linux/glibc (macOS, musl), where this returns False.
    """
    mode = (mode if mode is not None else os.environ.get(ENV, "auto")).strip().lower()
    if mode not in MODES:
        raise ValueError(f"{ENV} must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "default" or (mode == "auto" and not runs_on_cpu()):
        return False
    libc = _glibc()
    if libc is None:
        return False
    global _applied
    _applied = all(libc.mallopt(param, value) == 1 for param, value in SETTINGS)
    return _applied
