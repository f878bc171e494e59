"""One trainer per run directory: an advisory lock on ``<workdir>/.lock`` (``RunDirectory.LOCK``).

The lock is an ``fcntl.flock`` on the file, which the kernel releases when the holding process ends
in any way (``kill -9`` included), so a lock left by a killed trainer never blocks the next one;
the file only records the holder's process id and host for the message a second trainer prints.
It is opened without following links (:func:`snnjax.tool.run_files.open_owned`): a ``.lock`` that is a
symbolic or hard link is refused, and the file it points to is left as it is.
"""

from __future__ import annotations

import os
import socket

from snnjax.core.errors import ConfigError

try:
    import fcntl
except ImportError:  # Windows: no flock; runs go unlocked
    fcntl = None


class RunLockedError(ConfigError):
    """Another process trains in this run directory (a ``ConfigError``: the command's ``--workdir``
    must change, or the other trainer stop)."""


class RunLock:
    """Holds the lock of ``workdir`` from :meth:`acquire` until :meth:`release` (or process end).

    Example::

        with RunLock(workdir):
            ...  # the only trainer writing to workdir
    """

    def __init__(self, workdir: str | os.PathLike):
        from snnjax.tool.run_directory import RunDirectory  # the one place that spells the run's file names

        self.path = RunDirectory(workdir).lock_path
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Takes the lock, or raises :class:`RunLockedError` naming the holder's process id."""
        if fcntl is None or self._fd is not None:
            return self
        from snnjax.tool import run_files  # here, not at the top: the import block is shared with other changes

        # never through a link: a .lock planted as a link to another file must not truncate that file
        fd = run_files.open_owned(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLockedError(
                f"{self.path.parent} is in use by another trainer (process {holder}); wait for it to end or "
                "stop it, or use another --workdir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()
