"""Stopping a training run cleanly on SIGTERM and SIGINT (preemption, ``scancel``, Ctrl-C).

SLURM and Kubernetes send SIGTERM and wait (about 30 s) before SIGKILL. While a
:class:`StopRequest` is installed, the first SIGTERM or SIGINT only records the request: the loop
finishes the step (or the device-loop call) in flight, saves a checkpoint, writes its metrics and
raises :class:`RunInterrupted`, whose message is the one line ``train.py`` prints before it exits
non-zero. The first signal also puts back the system's default action for both signals, so a
second one ends the process at once.

Example::

    with StopRequest() as stop:
        for step in ...:
            train_step()
            if stop.requested:
                save()
                raise RunInterrupted(f"interrupted at step {step}, checkpoint saved; ...")

This module imports nothing from snnjax.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunInterrupted(Exception):
    """The run stopped on a signal after saving what it had; the message says where and how to go on."""


class StopRequest:
    """Records the first SIGTERM / SIGINT while installed (``with StopRequest() as stop``).

    Outside the main thread signal handlers cannot be installed: then nothing is installed and
    :attr:`requested` stays False (the signals act as they did before).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """Whether a stop signal arrived."""
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self.signum = signum
        for s in SIGNALS:  # a second signal: the default action, the process ends at once
            signal.signal(s, signal.SIG_DFL)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for s, handler in self._previous.items():
            if handler is not None:  # None: installed from outside Python, cannot be put back
                signal.signal(s, handler)
        self._previous.clear()

    def describe(self) -> str:
        """The signal's name (``SIGTERM``), for messages."""
        return signal.Signals(self.signum).name if self.signum is not None else "no signal"
