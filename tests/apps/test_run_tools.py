"""The tools that read a run directory (``load_run``, report, export) on runs they did not train.

- a run trained on 4 devices is evaluated, reported and exported on 1 device;
- ``snnjax.report`` on a missing directory fails before it creates anything;
- export/report on a half-written run (a save interrupted before its first checkpoint) print their
  one clear line and nothing else (no orbax thread errors at interpreter exit).

The 1-device side runs in a subprocess: the test process has 4 fake CPU devices (conftest.py).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cpu_env import cpu_env

from configs import smoke
from snnjax import report
from snnjax.tool import train_lib
from snnjax.tool.run_dir import load_run


# A restore that fails on a damaged array file leaves orbax's other pending tensorstore reads to finish
# after orbax closed their asyncio loop; their callbacks then hit the closed loop ("Event loop is
# closed", reported by pytest as an unraisable exception from a background thread). Harmless: the
# fallback has already moved on (not seen outside pytest: a script doing the same restores prints nothing).
pytestmark = pytest.mark.filterwarnings("ignore:Exception ignored in. None:pytest.PytestUnraisableExceptionWarning")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_4_devices(tmp_path_factory):
    assert jax.device_count() == 4
    config = smoke.get_config()
    with config.unlocked():
        config.model.spec = "8c3-ap2-8c3-ap2-40-10"  # average pooling: exportable to NIR
        config.train.num_steps = 4
        config.train.num_epochs = 1.0
        config.train.checkpoint_every_steps = 2
    workdir = tmp_path_factory.mktemp("run4")
    train_lib.train_and_evaluate(config, workdir, progress=False)
    return workdir


@pytest.mark.slow
def test_run_trained_on_4_devices_is_evaluated_reported_and_exported_on_1(run_4_devices, tmp_path):
    shardings = json.loads((run_4_devices / "checkpoints" / "4" / "state" / "_sharding").read_text())
    meshes = {len(json.loads(s)["device_mesh"]["mesh"]) for s in shardings.values()}
    assert meshes == {4}  # every array was saved over 4 devices
    run = load_run(run_4_devices)
    x, _ = run.dataset.test.get(np.arange(8))
    expected = np.asarray(run.model.apply(run.variables, jnp.asarray(x), train=False).out)
    script = textwrap.dedent(f"""
        import jax, jax.numpy as jnp, numpy as np
        from snnjax import export, report
        from snnjax.tool.run_dir import load_run
        assert jax.device_count() == 1, jax.devices()
        run = load_run({str(run_4_devices)!r})
        x, _ = run.dataset.test.get(np.arange(8))
        np.save({str(tmp_path / "out.npy")!r}, np.asarray(run.model.apply(run.variables, jnp.asarray(x), train=False).out))
        assert export.main([{str(run_4_devices)!r}, "--out", {str(tmp_path / "model.nir")!r}]) == 0
        assert report.main([{str(run_4_devices)!r}, "--out", {str(tmp_path / "report")!r}]) == 0
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=cpu_env(1), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == ""  # no orbax warnings on the way
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)
    assert (tmp_path / "model.nir").stat().st_size > 1000
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == [
        "curves.png", "curves.svg", "firing_rates.png", "firing_rates.svg", "index.html", "raster.png", "raster.svg"]


def test_report_on_a_missing_directory_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "no_such_run"
    assert report.main([str(missing)]) == 2
    assert "metrics.jsonl not found" in capsys.readouterr().err
    assert not missing.exists()


@pytest.fixture
def half_written_run(run_4_devices, tmp_path):
    """A copy of the run as it looks when killed inside its first save: only orbax's temporary dir."""
    workdir = tmp_path / "half"
    shutil.copytree(run_4_devices, workdir)
    shutil.rmtree(workdir / "checkpoints" / "2")
    (workdir / "checkpoints" / "4").rename(workdir / "checkpoints" / "4.orbax-checkpoint-tmp")
    (workdir / "summary.json").unlink()
    return workdir


@pytest.mark.slow
def test_export_on_a_half_written_run_prints_its_one_line(half_written_run):
    done = subprocess.run([sys.executable, "-m", "snnjax.export", str(half_written_run)], cwd=REPO, env=cpu_env(1),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: no checkpoint in {half_written_run / 'checkpoints'}: the run saved none yet"]
    assert (half_written_run / "checkpoints" / "4.orbax-checkpoint-tmp").is_dir()  # a reader cleans up nothing


@pytest.mark.slow
def test_report_on_a_half_written_run_plots_the_curves_and_says_what_is_missing(half_written_run):
    done = subprocess.run([sys.executable, "-m", "snnjax.report", str(half_written_run)], cwd=REPO, env=cpu_env(1),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"note: no checkpoint in {half_written_run / 'checkpoints'} yet: the report has no spike raster or "
        "learned-parameter plots"]
    assert sorted(p.name for p in (half_written_run / "report").iterdir()) == [
        "curves.png", "curves.svg", "firing_rates.png", "firing_rates.svg", "index.html"]


def test_load_run_skips_an_unreadable_newest_checkpoint_and_leaves_it(run_4_devices, tmp_path, capsys):
    workdir = tmp_path / "damaged"
    shutil.copytree(run_4_devices, workdir)
    (workdir / "checkpoints" / "4" / "state" / "_METADATA").write_bytes(b"")
    run = load_run(workdir, with_data=False)
    assert run.step == 2
    err = capsys.readouterr().err
    assert f"checkpoint {workdir / 'checkpoints' / '4'} is unreadable (JSONDecodeError" in err and "left in place" in err
    assert sorted(os.listdir(workdir / "checkpoints")) == ["2", "4"]
