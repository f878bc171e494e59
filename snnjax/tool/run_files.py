"""Writing and reading the files a training run owns in its directory, safely.

A run writes ``.lock``, ``config.json``, ``config_history.jsonl``, ``metrics.jsonl`` and
``summary.json`` in its ``--workdir`` (their names are spelled in :mod:`snnjax.tool.run_directory` alone,
whose ``RunDirectory`` reads and writes them through this module). None of them is ever written
through a symbolic link (a link planted there would make the run truncate or overwrite whatever it
points to) or through a second hard link to another file:

- :func:`check_owned_files` refuses a run directory where one of them is a link, with one line
  naming it (before anything is written);
- :func:`open_owned` opens with ``O_NOFOLLOW`` (a link made after the check still fails);
- :func:`write_owned` writes a whole file atomically: a new file beside it, then ``os.replace``,
  which replaces a link itself, never its target, and leaves no half-written file.

JSON-lines files (``metrics.jsonl``, ``config_history.jsonl``) are read by :func:`read_jsonl`: a
half-written last line (a run killed while writing it) is dropped with a warning; a damaged line
elsewhere is an error naming the file and line.

This module imports nothing from snnjax (the metric writers and the report use it too).
"""

from __future__ import annotations

import errno
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


class RunDirError(ValueError):
    """The run directory cannot be used as it is (a link where a run file goes, a damaged file, a
    directory that cannot be written); the message names the path and what to do (``train.py``
    prints it as its one line: :func:`snnjax.tool.cli_errors.explain`)."""


def _link_problem(path: Path) -> str | None:
    """Why the run must not write ``path`` (a symbolic or hard link) and what to do, or ``None``."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # not there (a parent that is a file is reported elsewhere)
        return None
    if os.path.islink(path):
        return (f"is a symbolic link (to {os.readlink(path)}): snnjax never writes a run's own files through a "
                "link; remove the link (what it points to is untouched) or use another --workdir")
    if not os.path.isdir(path) and st.st_nlink > 1:
        return (f"has {st.st_nlink} hard links (another file shares its contents): snnjax never writes a run's own "
                f"files through a link; give it a copy of its own (cp {path} {path}.own && mv {path}.own {path}) "
                "or use another --workdir")
    return None


def check_owned_files(paths: Iterable[Path]) -> None:
    """Refuses the run when one of the files it owns is a symbolic or hard link.

    Raises:
        RunDirError: naming the first such path; nothing has been written.
    """
    for path in paths:
        problem = _link_problem(Path(path))
        if problem:
            raise RunDirError(f"{path} {problem}")


def open_owned(path: str | os.PathLike, flags: int, mode: int = 0o644) -> int:
    """``os.open(path, flags | O_NOFOLLOW | O_CLOEXEC)``: a file descriptor, never through a link.

    Raises:
        RunDirError: ``path`` is a symbolic or hard link (nothing was opened for writing).
    """
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags | nofollow | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as error:
        if error.errno == errno.ELOOP:  # O_NOFOLLOW on a symbolic link
            check_owned_files([Path(path)])
        raise
    if os.fstat(fd).st_nlink > 1:
        os.close(fd)
        check_owned_files([Path(path)])
    return fd


def append_owned(path: str | os.PathLike, encoding: str = "utf-8"):
    """A text file object appending to ``path`` (created if missing), never through a link."""
    fd = open_owned(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    return os.fdopen(fd, "a", encoding=encoding)


def write_owned(path: str | os.PathLike, text: str) -> None:
    """Writes ``text`` to ``path`` atomically: a temporary file in the same directory, flushed,
    then renamed over ``path`` (a link at ``path`` is replaced, its target never written)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(directory: Path) -> None:
    """Creates and removes a file in ``directory``: fails now, before any training, when it cannot
    be written (read-only file system, no permission), not after the run's last step.

    Raises:
        RunDirError: one line naming the directory and the reason.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=".snnjax-write-check.", dir=directory)
        os.close(fd)
        os.unlink(tmp)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise RunDirError(f"cannot write in {directory} ({reason}): the run could not save its checkpoints or "
                          "metrics; make it writable or choose a --workdir you can write to") from error


def jsonl_lines(path: str | os.PathLike) -> list[tuple[str, dict[str, Any]]]:
    """``(line, record)`` for every record of a JSON-lines file (``[]`` if it does not exist); the
    line without its end of line.

    A last line that is not valid JSON (half-written by a run that was killed) is dropped, with a
    warning on stderr; it is the only line a crash can damage, since each record is written whole
    and flushed.

    Raises:
        RunDirError: a line before the last is not valid JSON (named, with its number).
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    numbered = [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    out = []
    for k, (number, line) in enumerate(numbered):
        try:
            out.append((line, json.loads(line)))
        except json.JSONDecodeError as error:
            if k == len(numbered) - 1:
                print(f"warning: {path}: its last line ({number}) is incomplete (a run stopped while writing it) "
                      "and is ignored", file=sys.stderr)
                break
            raise RunDirError(f"{path}: line {number} is not valid JSON ({error.msg}); repair or delete that "
                              "line") from error
    return out


def keep_jsonl(path: str | os.PathLike, keep: Callable[[dict[str, Any]], bool]) -> None:
    """Rewrites a JSON-lines file with only the records for which ``keep`` is true (and without a
    half-written last line, dropped with a warning: :func:`jsonl_lines`). Nothing is written when
    nothing changes; otherwise the file is replaced whole (:func:`write_owned`), never written
    through a link. A missing file stays missing."""
    path = Path(path)
    if not path.exists():
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    kept = "".join(line + "\n" for line, record in jsonl_lines(path) if keep(record))
    if kept != text:
        write_owned(path, kept)


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a JSON-lines file (``[]`` if it does not exist); a half-written last line is
    dropped with a warning (:func:`jsonl_lines`)."""
    return [record for _, record in jsonl_lines(path)]


def read_json(path: str | os.PathLike, what_to_do: str) -> Any:
    """The JSON value of the file at ``path``.

    Raises:
        RunDirError: the file is not valid JSON; the line names it and says ``what_to_do``.
    """
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunDirError(f"{path} is not valid JSON ({error}); {what_to_do}") from error
