"""Runs a Jupytext percent-format tutorial cell by cell and records what each code cell printed.

    python tests/tutorial_runner.py docs/tutorials/01_neurons.py build/tutorial-outputs/01_neurons.json

The cells run in one namespace, in order, as the script runs under ``python``; each code cell's
standard output is recorded (and still printed). The JSON written holds the script's SHA-256 and,
per code cell, its source and output; ``docs/_ext/tutorial_outputs.py`` attaches those outputs to
the page the docs build renders, when the script's hash matches, so the site shows the outputs of
the very code the tests executed without running it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import pathlib
import re
import sys

_MARKER = re.compile(r"^# %%(.*)$")


def code_cells(text: str) -> list[str]:
    """The sources of the code cells of a percent-format script, stripped (Jupytext's cells)."""
    cells, current, is_code = [], None, False
    for line in text.splitlines():
        marker = _MARKER.match(line)
        if marker:
            if current is not None and is_code:
                cells.append("\n".join(current).strip())
            current, is_code = [], "[markdown]" not in marker.group(1)
        elif current is not None:
            current.append(line)
    if current is not None and is_code:
        cells.append("\n".join(current).strip())
    return cells


class _Tee(io.StringIO):
    def __init__(self, stream):
        super().__init__()
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(text)
        return super().write(text)


def run(script: pathlib.Path, out: pathlib.Path) -> None:
    text = script.read_text()
    namespace = {"__name__": "__main__", "__file__": str(script)}
    records = []
    for i, source in enumerate(code_cells(text)):
        tee = _Tee(sys.stdout)
        with contextlib.redirect_stdout(tee):
            exec(compile(source, f"{script.name} (code cell {i + 1})", "exec"), namespace)
        records.append({"source": source, "stdout": tee.getvalue()})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"script_sha256": hashlib.sha256(text.encode()).hexdigest(), "cells": records}))


if __name__ == "__main__":
    run(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
