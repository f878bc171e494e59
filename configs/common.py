"""Small pieces every experiment config uses: reading ``arg`` and finishing a config.

A config is run by name, ``--config <name>:<arg>`` (``snnjax-train``, ``python -m snnjax.train``,
and ``train.py`` in a checkout, which also takes the path ``configs/<name>.py:<arg>``); ``arg`` is a
string (or None when the ``:<arg>`` part is left out). Each config lists the values it documents in a module-level ``ARGS``
tuple, default first; ``tests/tool/test_configs.py`` loads every one of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import ml_collections


def choose(arg: str | None, choices: Sequence[str], config_name: str) -> str:
    """Returns ``arg``, or ``choices[0]`` when it is None or empty.

    Raises:
        ValueError: ``arg`` is not one of ``choices`` (the message lists them).
    """
    if arg is None or str(arg).strip() == "":
        return choices[0]
    arg = str(arg).strip()
    if arg not in choices:
        raise ValueError(
            f"config {config_name!r}: unknown argument {arg!r}; choose one of {list(choices)}, "
            f"e.g. --config {config_name}:{choices[-1]}"
        )
    return arg


def positive_int(arg: str | None, default: int, config_name: str) -> int:
    """``int(arg)``, or ``default`` when it is None or empty; anything but a positive integer is an error."""
    if arg is None or str(arg).strip() == "":
        return default
    try:
        value = int(str(arg).strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            f"config {config_name!r}: the argument must be a positive integer, got {arg!r} "
            f"(e.g. --config {config_name}:{default})"
        )
    return value


def no_arg(arg: str | None, config_name: str) -> None:
    """For configs without variants: an argument (``<name>:x``) is an error, not ignored."""
    if arg is not None and str(arg).strip() != "":
        raise ValueError(
            f"config {config_name!r} takes no argument, got {arg!r}: drop ':{arg}' "
            f"(--config {config_name}) and change keys with --config.<section>.<key>=<value>"
        )


def finish(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Locks the config: overriding a key works, adding one (a misspelt override) is an error."""
    config.lock()
    return config
