"""One clear line for the errors a user of ``train.py`` can fix, instead of a traceback.

:func:`explain` turns a known error into that line (or returns ``None`` for a bug, which keeps its
traceback). :class:`OrbaxErrorLog` holds back orbax's own ERROR log records while a run is going
(a full disk makes orbax's background threads log hundreds of lines before the error reaches the
loop) and gives them back when the error turns out not to be one that :func:`explain` knows.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from snnjax.tool.preemption import RunInterrupted
from snnjax.tool.run_files import RunDirError

DISK_FULL_TEXT = "No space left on device"


def error_chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every error it was raised from or during (``__cause__``, ``__context__``)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def is_disk_full(error: BaseException) -> bool:
    """An ``OSError(ENOSPC)`` anywhere in the chain, or tensorstore's wrapped form of it."""
    return any(
        (isinstance(e, OSError) and e.errno == errno.ENOSPC) or DISK_FULL_TEXT in str(e) for e in error_chain(error)
    )


def check_workdir(workdir: str | os.PathLike) -> str | None:
    """Why ``--workdir`` cannot hold a run (a file, or under a file), or ``None`` if it can."""
    path = Path(workdir)
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            what = "is a file" if part == path else f"is inside {part}, which is a file"
            return (f"error: --workdir {workdir} {what}, not a directory; give a new directory (or an existing "
                    "run directory to resume it)")
    return None


def explain(error: BaseException, workdir: str | os.PathLike, known: tuple[type[BaseException], ...] = ()) -> str | None:
    """The one line to print for ``error``, or ``None`` when it is not one a user can fix.

    Args:
        error: what the run raised.
        workdir: the run directory (named in the disk-full message).
        known: the library's own error types whose message already says what to do
            (``ConfigError``, ``DataNotFoundError``, ``IDXError``, ``CheckpointError``, ...);
            :class:`snnjax.tool.run_files.RunDirError` is always one of them, and a run stopped by a
            signal (:class:`snnjax.tool.preemption.RunInterrupted`) prints its own message as it is.
    """
    if is_disk_full(error):
        from snnjax.tool.run_directory import RunDirectory  # the one place that names the run's files

        checkpoints = RunDirectory(workdir).checkpoints_path
        steps = sorted(int(p.name) for p in checkpoints.glob("*") if p.name.isdigit()) if checkpoints.is_dir() else []
        kept = (f"the last complete checkpoint, {checkpoints / str(steps[-1])}, is kept: free some space and rerun "
                "the same command to resume from it") if steps else "no checkpoint was complete yet: free some space and rerun"
        return (f"error: no space left on the device of {workdir} (while writing "
                f"{_written_file(error) or 'the run'}); {kept}")
    if isinstance(error, RunInterrupted):  # a stop signal, after the checkpoint was saved: not an error
        return str(error)
    if isinstance(error, (RunDirError, *known)):
        return f"error ({type(error).__name__}): {error}"
    if isinstance(error, PermissionError):
        return f"error: no permission to write {error.filename or workdir}: choose a --workdir you can write to"
    return None


def _written_file(error: BaseException) -> str | None:
    for e in error_chain(error):
        if isinstance(e, OSError) and e.filename:
            return str(e.filename)
    return None


class OrbaxErrorLog(logging.Filter):
    """Holds back orbax's ERROR records on absl's logger while installed (``with OrbaxErrorLog() as log``).

    After a failure :func:`explain` knows, drop them (:meth:`discard`); otherwise :meth:`release`
    prints them, as they would have been printed. After :meth:`discard` the filter stays installed
    to the end of the process: orbax's background threads may still be finishing the failed save
    as the process exits, and log the same failure again at shutdown.
    """

    def __init__(self) -> None:
        super().__init__()
        self.held: list[logging.LogRecord] = []
        self._logger = logging.getLogger("absl")
        self._explained = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and f"{os.sep}orbax{os.sep}" in (record.pathname or ""):
            self.held.append(record)
            return False
        return True

    def __enter__(self) -> OrbaxErrorLog:
        self._logger.addFilter(self)
        return self

    def __exit__(self, *exc_info) -> None:
        if not self._explained:
            self._logger.removeFilter(self)

    def discard(self) -> None:
        """Drops the held records (the failure was explained in one line), and any to come."""
        self.held.clear()
        self._explained = True

    def release(self) -> None:
        """Hands the held records to the logger's handlers, in order."""
        held, self.held = self.held, []
        for record in held:
            self._logger.handle(record)
