"""A run directory written by snnjax 0.1.0's layout (before the package moved into layered folders)
still resumes, evaluates, reports and exports (issue 29 item 7).

``tests/fixtures/run_v0_1_0`` was made by commit 7003ca9 (the flat ``snnjax/`` of 0.1.0) with
``python train.py --config configs/smoke_nir.py --workdir W --config.train.num_steps=4
--config.train.max_checkpoints=1 --config.train.checkpoint_every_steps=4`` (``tb/`` and the lock
left out): its ``config.json`` lacks every key added since, and its checkpoint holds the parameter
paths of that version.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run_v0_1_0"


@pytest.fixture
def old_run(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    return run


def _python(*args, cwd):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_an_old_run_resumes_with_todays_trainer(old_run, tmp_path):
    result = _python("-m", "snnjax.train", "--config", "smoke_nir", "--workdir", str(old_run),
                     "--config.train.num_steps=6", "--config.train.max_checkpoints=1",
                     "--config.train.checkpoint_every_steps=4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resuming at step 4" in result.stderr
    summary = json.loads((old_run / "summary.json").read_text())
    assert summary["steps"] == 6


@pytest.mark.slow
def test_an_old_run_evaluates_reports_and_exports(old_run, tmp_path):
    from snnjax.tool.run_dir import load_run

    run = load_run(old_run)
    assert run.step == 4 and set(run.variables) >= {"params"}
    report = _python("-m", "snnjax.report", str(old_run), cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-2000:]
    export = _python("-m", "snnjax.export", str(old_run), "--format", "nir", cwd=tmp_path)
    assert export.returncode == 0, export.stderr[-2000:]
    assert any(old_run.rglob("*.nir")) or any(tmp_path.rglob("*.nir")), export.stdout + export.stderr
