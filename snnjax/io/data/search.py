"""Where snnjax looks for dataset files, and the error it raises when they are not there.

For a dataset ``name`` the folders searched are, in order:

1. ``data_dir`` (``--config.data.data_dir``) and ``data_dir/<name>``,
2. ``$SNNJAX_DATA_DIR`` and ``$SNNJAX_DATA_DIR/<name>``,
3. system folders of OS packages (Debian's ``dataset-fashion-mnist`` installs
   ``/usr/share/datasets/fashion-mnist``).

Loaders then try their last resort (tensorflow-datasets, tonic) and, if everything fails, raise a
`DataNotFoundError` that lists every place searched and how to get the data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

ENV_VAR = "SNNJAX_DATA_DIR"

# Folders that OS packages install datasets into, by dataset name.
SYSTEM_DIRS: dict[str, tuple[str, ...]] = {
    "fashion_mnist": ("/usr/share/datasets/fashion-mnist",),
}


class DataNotFoundError(FileNotFoundError):
    """A dataset's files (or the package that reads them) could not be found."""


def candidate_dirs(name: str, data_dir: str | os.PathLike | None) -> list[Path]:
    """The folders to search for dataset ``name``, in order, without duplicates.

    Args:
        name: the dataset's registry name (also the subfolder looked into).
        data_dir: the configured data folder, or None.

    Returns:
        ``[data_dir, data_dir/name, $SNNJAX_DATA_DIR, $SNNJAX_DATA_DIR/name, *SYSTEM_DIRS[name]]``,
        leaving out the unset ones. The folders need not exist.
    """
    roots = [data_dir, os.environ.get(ENV_VAR) or None]
    dirs = []
    for root in roots:
        if root is not None:
            root = Path(root).expanduser()
            dirs += [root, root / name]
    dirs += [Path(d) for d in SYSTEM_DIRS.get(name, ())]
    return list(dict.fromkeys(dirs))


def unset_roots(data_dir: str | os.PathLike | None) -> list[str]:
    """One not-found-message line for each search root that is not set."""
    lines = []
    if data_dir is None:
        lines.append("--config.data.data_dir: not set")
    if not os.environ.get(ENV_VAR):
        lines.append(f"${ENV_VAR}: not set")
    return lines


def describe_dir(directory: Path, what: str) -> str:
    """A not-found-message line for a searched folder that did not hold ``what``."""
    return f"{directory} ({'no ' + what if directory.is_dir() else 'no such folder'})"


def not_found_error(name: str, searched: Sequence[str], hints: Sequence[str]) -> DataNotFoundError:
    """Builds the error for a dataset that could not be found.

    Args:
        name: the dataset's name.
        searched: one line per place searched (a folder, or a package and why it did not help).
        hints: one line per way to get the data.
    """
    lines = [f"Could not find the {name!r} dataset. Searched:"]
    lines += [f"  - {place}" for place in searched]
    lines += ["To get it:"]
    lines += [f"  - {hint}" for hint in hints]
    return DataNotFoundError("\n".join(lines))


def data_dir_hints(what: str) -> list[str]:
    """The generic hints: put ``what`` in a folder and point snnjax at it."""
    return [
        f"put {what} in a folder and pass --config.data.data_dir=FOLDER "
        "(files directly in FOLDER or in FOLDER/<name>/)",
        f"or set the environment variable {ENV_VAR}=FOLDER",
    ]
