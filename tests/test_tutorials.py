"""The tutorials in docs/tutorials/ run as a reader runs them (a fresh process, default JAX settings,
CPU), so the documentation site cannot show code that no longer works.

Each tutorial is a Jupytext percent-format script; the docs build renders it without executing it
(``make docs`` stays fast) and this test executes it. Each is sized to run in about a minute on a
CPU; the assertions that check its results are inside the tutorial, beside the text that claims them.
Each tutorial's cell outputs are kept in build/tutorial-outputs/, and the site shows them (``make test``
before ``make docs``, as CI does). The snnjax side of each "Coming from ..." page runs too (the peers' side is not run: no PyTorch code
is executed here).
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

import tutorial_runner

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
TUTORIALS = DOCS / "tutorials"
COMING_FROM = sorted((DOCS / "coming-from").glob("*.md"))
SCRIPTS = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))
RUNNER = pathlib.Path(tutorial_runner.__file__)
OUTPUTS = DOCS.parent / "build" / "tutorial-outputs"  # read by docs/_ext/tutorial_outputs.py
# the "slow" marker: a minute or more on a 2-core CPU, or 5 s or more (05, 06, 08, 02) so that the fast
# tier keeps tutorial 1 and the "Coming from" pages
SLOW = {"02_surrogate_gradients", "03_training", "04_train_py", "05_sequences", "06_neuromorphic", "07_nir", "08_devices"}


def test_the_tutorials_are_found():
    assert len(SCRIPTS) >= 3, f"no tutorials found in {TUTORIALS}"


def test_every_tutorial_is_in_the_index():
    index = (TUTORIALS / "index.md").read_text()
    listed = set(re.findall(r"^(\d\d_\w+)$", index, re.M))
    assert listed == {p.stem for p in SCRIPTS}


def _run(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # not conftest's fake devices
    env["JAX_PLATFORMS"] = "cpu"
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def snnjax_blocks(page: pathlib.Path) -> list[str]:
    """The page's Python code blocks whose first line is ``# snnjax`` (the peers' blocks are not run)."""
    blocks = re.findall(r"^```python\n(.*?)^```", page.read_text(), re.M | re.S)
    return [b for b in blocks if b.startswith("# snnjax\n")]


@pytest.mark.parametrize("page", COMING_FROM, ids=[p.stem for p in COMING_FROM])
def test_coming_from_snnjax_code_runs(page, tmp_path):
    blocks = snnjax_blocks(page)
    assert blocks, f"{page.name} has no '# snnjax' code block"
    proc = _run(["-c", "\n".join(blocks)], tmp_path)
    assert proc.returncode == 0, f"{page.name}: {proc.stderr[-3000:]}"
    loss = float(re.findall(r"^loss (\S+)$", proc.stdout, re.M)[-1])
    assert 0.0 < loss < 10.0, loss


@pytest.mark.parametrize("script", [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW else [])
                                    for p in SCRIPTS])
def test_tutorial_runs(script, tmp_path):
    """Runs the tutorial cell by cell (``tutorial_runner``) and keeps each cell's output for the site."""
    out = OUTPUTS / f"{script.stem}.json"
    proc = _run([str(RUNNER), str(script), str(out)], tmp_path)
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    cells = json.loads(out.read_text())["cells"]
    assert len(cells) == len(tutorial_runner.code_cells(script.read_text())) and any(c["stdout"] for c in cells)


def test_the_runner_splits_cells_as_jupytext_does():
    """The docs attach recorded outputs by cell: the runner's cells must be Jupytext's code cells."""
    jupytext = pytest.importorskip("jupytext")  # the docs extra
    for script in SCRIPTS:
        notebook = jupytext.read(script)
        assert tutorial_runner.code_cells(script.read_text()) == [
            c.source.strip() for c in notebook.cells if c.cell_type == "code"], script.name
