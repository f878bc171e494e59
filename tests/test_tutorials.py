"""The tutorials in docs/tutorials/ run as a reader runs them (a fresh process, default JAX settings,
CPU), so the documentation site cannot show code that no longer works.

Each tutorial is a Jupytext percent-format script; the docs build renders it without executing it
(``make docs`` stays fast) and this test executes it. Each is sized to run in about a minute on a
CPU; the assertions that check its results are inside the tutorial, beside the text that claims them.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

TUTORIALS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "tutorials"
SCRIPTS = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))
SLOW = {"03_training", "04_train_py"}  # a minute or more on a 2-core CPU (the "slow" marker)


def test_the_tutorials_are_found():
    assert len(SCRIPTS) >= 3, f"no tutorials found in {TUTORIALS}"


def test_every_tutorial_is_in_the_index():
    index = (TUTORIALS / "index.md").read_text()
    listed = set(re.findall(r"^(\d\d_\w+)$", index, re.M))
    assert listed == {p.stem for p in SCRIPTS}


@pytest.mark.parametrize("script", [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW else [])
                                    for p in SCRIPTS])
def test_tutorial_runs(script, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # not conftest's fake devices
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
