"""Finding an experiment config for ``--config``: a packaged config by name, or a file by path.

    snnjax-train --config smoke --workdir runs/smoke                  # configs/smoke.py, packaged
    snnjax-train --config ce_lif_seq_mnist:152 --workdir runs/ce152   # name[:arg]
    snnjax-train --config path/to/my_config.py:arg --workdir runs/mine

The experiment configs of the repository's ``configs/`` folder ship inside the wheel as the package
``snnjax.configs`` (``pyproject.toml`` maps the folder onto that name; docs/design.md, "Where the
configs live"), and they import each other as ``from snnjax.configs import common``. A ``--config``
value whose file part ends in ``.py`` or holds a path separator is a path, passed on unchanged
(ml_collections' ``config_flags`` loads it); anything else is the name of a packaged config and is
turned into that file's absolute path. Then ``--config.<section>.<key>=<value>`` overrides, the
``:arg`` and the error messages of :func:`snnjax.tool.validate.parse_flags` work as for a path.

In a checkout that was never installed (``PYTHONPATH=.``), ``snnjax.configs`` is not importable by
itself: :func:`configs_dir` then registers the checkout's ``configs/`` under that name, so
``python train.py --config configs/smoke.py`` still runs there.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import ml_collections

PACKAGE = "snnjax.configs"
FLAG = "config"


class ConfigNotFoundError(FileNotFoundError):
    """A ``--config`` value that names no packaged config and no existing file; the message says what to give."""


def configs_dir() -> Path:
    """The folder of the packaged experiment configs (``snnjax/configs`` installed, ``configs/`` in a checkout).

    Raises:
        ConfigNotFoundError: neither an installed ``snnjax.configs`` nor a checkout's ``configs/`` exists.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    checkout = Path(__file__).resolve().parents[2] / "configs"
    if (checkout / "__init__.py").is_file():
        _register_checkout_configs(checkout)
        return checkout
    raise ConfigNotFoundError(f"the package {PACKAGE} is missing from {Path(__file__).parent}: reinstall snnjax")


def _register_checkout_configs(folder: Path) -> None:
    """Makes ``import snnjax.configs`` find ``folder`` (a checkout's ``configs/`` when snnjax is not installed)."""
    spec = importlib.util.spec_from_file_location(PACKAGE, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)
    setattr(importlib.import_module("snnjax"), "configs", module)


def names() -> list[str]:
    """The names of the packaged configs, sorted (``configs/*.py`` but ``__init__`` and the ``*common`` helpers)."""
    return sorted(p.stem for p in configs_dir().glob("*.py")
                  if p.stem != "__init__" and not p.stem.endswith("common"))


def is_path(spec: str) -> bool:
    """Whether a ``--config`` value means a file (its part before ``:`` ends in ``.py`` or holds a separator)."""
    file_part = spec.split(":", 1)[0]
    separators = {os.sep, os.altsep or os.sep, "/"}
    return file_part.endswith(".py") or any(s in file_part for s in separators)


def resolve(spec: str) -> str:
    """The ``--config`` value that ml_collections loads: ``path[:arg]``, unchanged, or a name's file path.

    Args:
        spec: ``name[:arg]`` of a packaged config (``smoke``, ``ce_lif_seq_mnist:152``), or
            ``path/to/file.py[:arg]``.

    Raises:
        ConfigNotFoundError: the name is not packaged, or the file does not exist (one line naming
            what to give instead).
    """
    folder = configs_dir()  # also makes snnjax.configs importable in an uninstalled checkout
    file_part, colon, arg = spec.partition(":")
    if is_path(spec):
        if os.path.isfile(file_part):
            return spec
        stem = Path(file_part).stem
        packaged = (f"the packaged config of that name is --config {stem}{colon}{arg}" if stem in names()
                    else "give an existing file's path or a packaged config's name, e.g. --config smoke "
                         "(an unknown name lists them)")
        raise ConfigNotFoundError(f"config file {file_part} not found (looked in {os.getcwd()}); {packaged}")
    if file_part in names():
        return f"{folder / file_part}.py{colon}{arg}"
    close = difflib.get_close_matches(file_part, names(), n=1)
    hint = f"did you mean --config {close[0]}{colon}{arg}? " if close else ""
    raise ConfigNotFoundError(
        f"no packaged config named {file_part!r}; {hint}packaged configs: {', '.join(names())} "
        "(or give a config file's path, e.g. --config my_config.py)")


def resolve_argv(argv: Sequence[str], flag: str = FLAG) -> tuple[list[str], dict[str, str]]:
    """``argv`` with the value of ``--<flag>`` (``--config=v`` or ``--config v``) passed through :func:`resolve`.

    Returns:
        The new argv, and ``{resolved value: value as given}`` when the value changed (else empty).
    """
    argv = list(argv)
    for i, arg in enumerate(argv[1:], start=1):
        if arg == "--":
            break
        if arg.startswith(f"--{flag}="):
            index, given = i, arg[len(f"--{flag}="):]
        elif arg == f"--{flag}" and i + 1 < len(argv):
            index, given = i + 1, argv[i + 1]
        else:
            continue
        resolved = resolve(given)
        argv[index] = f"--{flag}={resolved}" if index == i else resolved
        return argv, ({resolved: given} if resolved != given else {})
    return argv, {}


def parse_flags(argv: Sequence[str]) -> list[str]:
    """``absl.app.run``'s ``flags_parser`` taking a packaged config's name for ``--config``.

    The value is resolved (:func:`resolve`), then :func:`snnjax.tool.validate.parse_flags` parses, with its
    one-line messages naming the value as the user gave it. A value that names nothing exits with
    one line.
    """
    from snnjax.tool import validate

    try:
        argv, changed = resolve_argv(argv)
    except ConfigNotFoundError as error:
        sys.exit(f"error: {error}")
    try:
        return validate.parse_flags(argv)
    except SystemExit as done:
        message = done.code
        if isinstance(message, str):
            for resolved, given in changed.items():
                message = message.replace(f"--{FLAG} {resolved}", f"--{FLAG} {given}")
        raise SystemExit(message) from None


def load(spec: str) -> ml_collections.ConfigDict:
    """The config ``spec`` names (``name[:arg]`` or ``path.py[:arg]``), as ``get_config(arg)`` returns it.

    A packaged config is imported as ``snnjax.configs.<name>``; a file is loaded as a module of its own.
    No override and no locking beyond what the file does (the configs lock themselves).
    """
    path, _, arg = resolve(spec).partition(":")
    path = Path(path).resolve()
    if path.parent == configs_dir().resolve():
        module = importlib.import_module(f"{PACKAGE}.{path.stem}")
    else:
        module_spec = importlib.util.spec_from_file_location(f"snnjax_config_file_{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    return module.get_config(arg) if arg else module.get_config()
