"""Reads a tutorial (Jupytext percent script) for MyST-NB, with the outputs the tests recorded.

``tests/test_tutorials.py`` executes each tutorial through ``tests/tutorial_runner.py``, which writes
``build/tutorial-outputs/<name>.json``: the script's SHA-256 and each code cell's printed output.
The docs build does not execute anything (``nb_execution_mode = "off"``); this reader attaches those
outputs to the code cells when the recorded hash is the hash of the script being rendered, so a page
never shows outputs of code other than its own. Without a matching record (``make docs`` before
``make test``), the page shows the code alone.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

import jupytext
import nbformat

OUTPUTS = pathlib.Path(__file__).resolve().parents[2] / "build" / "tutorial-outputs"


def _recorded(text: str) -> dict | None:
    digest = hashlib.sha256(text.encode()).hexdigest()
    for path in sorted(OUTPUTS.glob("*.json")):
        record = json.loads(path.read_text())
        if record.get("script_sha256") == digest:
            return record
    return None


def read_tutorial(text: str, **kwargs) -> nbformat.NotebookNode:
    """``jupytext.reads(text, fmt="py:percent")`` with the recorded outputs, when there are any."""
    notebook = jupytext.reads(text, fmt="py:percent")
    record = _recorded(text)
    if record is None:
        return notebook
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if [cell.source.strip() for cell in code] != [c["source"] for c in record["cells"]]:
        # tests/tutorial_runner.py split the cells otherwise than Jupytext: an error under -W
        from sphinx.util import logging

        logging.getLogger(__name__).warning("recorded tutorial outputs do not match Jupytext's code cells "
                                            "(tests/tutorial_runner.py code_cells); showing the code alone")
        return notebook
    for count, (cell, recorded) in enumerate(zip(code, record["cells"]), start=1):
        cell.execution_count = count
        if recorded["stdout"]:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=recorded["stdout"])]
    return notebook
