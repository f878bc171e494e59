"""The run directory is never written through a link, never loses an earlier run's files, reads
damaged files with one clear line, and is checked writable before training (issue 31, items 1, 3,
9, 11, 12). Runs are tiny (random 8x8 images, 2 steps per epoch) and in-process, but one that runs
``train.py`` as a user would."""

import errno
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import ml_collections
import pytest
from cpu_env import cpu_env
from test_train_lib import smoke_config, tiny

from snnjax import report
from snnjax.tool import checkpointing
from snnjax.tool import config_diff
from snnjax.tool import metric_writers
from snnjax.tool import run_files
from snnjax.tool import run_lock
from snnjax.tool import validate
from snnjax.tool import train_lib as tl
from snnjax.tool.run_directory import RunDirectory

REPO = Path(__file__).resolve().parents[2]


def small(num_epochs: float = 1.0) -> ml_collections.ConfigDict:
    """2 steps per epoch on 64 random 8x8 images; a checkpoint at every epoch's end."""
    config = tiny(smoke_config())
    config.data.name = "random"
    config.data.shape = (8, 8, 1)
    config.data.num_train, config.data.num_test = 64, 8
    config.train.eval_batch_size = 8
    config.train.num_epochs = num_epochs
    config.train.checkpoint_every_steps = 0
    config.train.loop = "host"
    return config


def changed(config: ml_collections.ConfigDict, **train_and_optim) -> ml_collections.ConfigDict:
    out = ml_collections.ConfigDict(config.to_dict())
    for key, value in train_and_optim.items():
        section, name = key.split("__")
        out[section][name] = value
    return out


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished run of 2 steps (1 epoch), to copy."""
    workdir = tmp_path_factory.mktemp("run") / "run"
    config = small()
    tl.train_and_evaluate(config, workdir, progress=False)
    return workdir, config


def _copy(run: Path, to: Path) -> Path:
    subprocess.run(["cp", "-r", str(run), str(to)], check=True)
    return to


# --------------------------------------------------------------------------- item 1: links


@pytest.mark.slow
def test_a_lock_linked_to_another_file_is_refused_by_train_py_and_the_file_is_untouched(tmp_path):
    """The issue's own reproduction: `.lock` a symbolic link to a file outside the run."""
    victim = tmp_path / "victim.txt"
    victim.write_text("important\n")
    workdir = tmp_path / "runs" / "s"
    workdir.mkdir(parents=True)
    (workdir / ".lock").symlink_to(victim)
    args = ["--config", "configs/smoke.py", "--workdir", str(workdir), "--config.train.num_steps=1"]
    done = subprocess.run([sys.executable, "train.py", *args], cwd=REPO, env=cpu_env(1), capture_output=True,
                          text=True, timeout=300)
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("snnjax: ")]
    assert done.returncode == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error (RunDirError): {workdir / '.lock'} is a symbolic link (to {victim})")
    assert "remove the link" in lines[0]
    assert victim.read_text() == "important\n"
    assert not (workdir / "config.json").exists() and not (workdir / "checkpoints").exists()


@pytest.mark.parametrize("name", [".lock", "config.json", "config_history.jsonl", "metrics.jsonl", "summary.json"])
@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_run_file_that_is_a_link_is_refused_before_anything_is_written(tmp_path, name, link):
    victim = tmp_path / "victim.txt"
    victim.write_text("important\n")
    workdir = tmp_path / "run"
    workdir.mkdir()
    if link == "symbolic":
        (workdir / name).symlink_to(victim)
    else:
        os.link(victim, workdir / name)
    with pytest.raises(run_files.RunDirError, match=f"{workdir / name} (is a symbolic link|has 2 hard links)"):
        tl.train_and_evaluate(small(), workdir, progress=False)
    assert victim.read_text() == "important\n"
    assert sorted(p.name for p in workdir.iterdir()) == [name]  # nothing else was written


def test_the_writers_never_write_through_a_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("important\n")
    for name in ("metrics.jsonl", "history.jsonl", "summary.json", ".lock"):
        (tmp_path / name).symlink_to(victim)
    with pytest.raises(run_files.RunDirError, match="metrics.jsonl is a symbolic link"):
        metric_writers.JsonlWriter(tmp_path / "metrics.jsonl")
    with pytest.raises(run_files.RunDirError, match="history.jsonl is a symbolic link"):
        config_diff.append_config_history(tmp_path / "history.jsonl", 0, small(), [])
    with pytest.raises(run_files.RunDirError, match=r"\.lock is a symbolic link"):
        run_lock.RunLock(tmp_path).acquire()
    run_files.write_owned(tmp_path / "summary.json", "{}\n")  # replaces the link itself
    assert not (tmp_path / "summary.json").is_symlink() and (tmp_path / "summary.json").read_text() == "{}\n"
    assert victim.read_text() == "important\n"


# --------------------------------------------------------------------------- item 3: config.json deleted


@pytest.mark.slow
def test_a_deleted_config_json_is_recovered_from_the_history_and_a_change_is_refused(finished_run, tmp_path,
                                                                                      capsys):
    run, config = finished_run
    workdir = _copy(run, tmp_path / "run")
    (workdir / "config.json").unlink()
    other_rate = changed(config, train__num_epochs=2.0, optim__learning_rate=0.123)
    with pytest.raises(validate.ConfigError, match=r"optim.learning_rate: 0.005 \(saved\) -> 0.123 \(now\)"):
        tl.train_and_evaluate(other_rate, workdir, progress=False)
    assert not (workdir / "config.json").exists()
    # the same config (longer) resumes, says where its config came from, and writes config.json again
    summary = tl.train_and_evaluate(changed(config, train__num_epochs=2.0), workdir, progress=False)
    assert summary["steps"] == 4
    assert f"note: {workdir / 'config.json'} is missing; the config of the checkpoints is taken from " in \
        capsys.readouterr().err
    assert json.loads((workdir / "config.json").read_text())["train"]["num_epochs"] == 2.0


@pytest.mark.slow
def test_no_config_json_and_no_history_is_refused_unless_a_change_is_allowed(finished_run, tmp_path):
    run, config = finished_run
    workdir = _copy(run, tmp_path / "run")
    (workdir / "config.json").unlink()
    (workdir / "config_history.jsonl").unlink()
    other_rate = changed(config, train__num_epochs=2.0, optim__learning_rate=0.123)
    with pytest.raises(run_files.RunDirError, match="no config.json .nor config_history.jsonl.: the config that "
                                                     "trained them is unknown"):
        tl.train_and_evaluate(other_rate, workdir, progress=False)
    tl.train_and_evaluate(other_rate, workdir, allow_config_change=True, progress=False)
    (record,) = run_files.read_jsonl(workdir / "config_history.jsonl")
    assert record["from_step"] == 2 and record["changes"] == [
        "the earlier config is unknown (no config.json or history)"]
    assert record["config"]["optim"]["learning_rate"] == 0.123


# --------------------------------------------------------------------------- item 9: checkpoints deleted


@pytest.mark.slow
def test_without_checkpoints_an_earlier_runs_files_are_moved_aside_not_erased(finished_run, tmp_path, capsys):
    run, config = finished_run
    workdir = _copy(run, tmp_path / "run")
    subprocess.run(["rm", "-r", str(workdir / "checkpoints")], check=True)
    before = {name: (workdir / name).read_bytes() for name in
              ("config.json", "metrics.jsonl", "summary.json", "config_history.jsonl")}
    other = changed(config, optim__learning_rate=0.123)
    tl.train_and_evaluate(other, workdir, progress=False)
    aside = workdir / "earlier_run_1"
    assert f"starting afresh; they were moved to {aside} (nothing deleted)" in capsys.readouterr().err
    assert {name: (aside / name).read_bytes() for name in before} == before
    assert (aside / "tb").is_dir()
    assert json.loads((workdir / "config.json").read_text())["optim"]["learning_rate"] == 0.123
    assert [h["from_step"] for h in run_files.read_jsonl(workdir / "config_history.jsonl")] == [0]


# --------------------------------------------------------------------------- item 11: damaged files


def test_a_half_written_last_metrics_line_is_dropped_with_a_warning(finished_run, tmp_path, capsys):
    run, config = finished_run
    workdir = _copy(run, tmp_path / "run")
    metrics = workdir / "metrics.jsonl"
    complete = metrics.read_text()
    metrics.write_text(complete + '{"step": 2, "train/lo')  # killed while writing a line
    warning = f"warning: {metrics}: its last line ({len(complete.splitlines()) + 1}) is incomplete"
    assert report.read_metrics(workdir) == [json.loads(line) for line in complete.splitlines()]
    assert warning in capsys.readouterr().err
    assert RunDirectory(workdir).has_eval_record(2)
    tl.train_and_evaluate(changed(config, train__num_epochs=2.0), workdir, progress=False)  # resumes
    assert warning in capsys.readouterr().err
    records = run_files.read_jsonl(metrics)  # the broken line is gone, the new records follow
    assert metrics.read_text().startswith(complete) and [r["step"] for r in records if "test/loss" in r] == [2, 4]


def test_a_damaged_line_before_the_last_is_an_error_naming_it(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"step": \n{"step": 3}\n')
    with pytest.raises(run_files.RunDirError, match=r"metrics.jsonl: line 2 is not valid JSON"):
        run_files.read_jsonl(tmp_path / "metrics.jsonl")


@pytest.mark.slow
def test_a_config_json_that_is_not_json_is_one_error_naming_it(finished_run, tmp_path):
    run, config = finished_run
    workdir = _copy(run, tmp_path / "run")
    (workdir / "config.json").write_text('{"model": ')
    before = (workdir / "metrics.jsonl").read_text()
    with pytest.raises(run_files.RunDirError, match=rf"{workdir / 'config.json'} is not valid JSON .*restore it"):
        tl.train_and_evaluate(changed(config, train__num_epochs=2.0), workdir, progress=False)
    assert (workdir / "config.json").read_text() == '{"model": ' and (workdir / "metrics.jsonl").read_text() == before


# --------------------------------------------------------------------------- item 12: not writable


def test_checkpoints_that_cannot_be_written_stop_the_run_before_training(tmp_path, monkeypatch):
    """As root (the test machine) permissions do not stop a write, so the file system's refusal is
    simulated: a read-only checkpoints/ (EROFS) is one error before any step, naming it."""
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).name == "checkpoints":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dir))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(run_files.tempfile, "mkstemp", mkstemp)
    workdir = tmp_path / "run"
    with pytest.raises(run_files.RunDirError, match=rf"cannot write in {workdir / 'checkpoints'} \(Read-only file "
                                                     r"system\): .* choose a --workdir you can write to"):
        tl.train_and_evaluate(small(), workdir, progress=False)
    assert not (workdir / "metrics.jsonl").exists()
    with checkpointing.Checkpointer(workdir / "checkpoints", read_only=True) as ckpt:
        assert ckpt.latest_step() is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the permissions")
def test_a_run_directory_without_write_permission_is_one_line(tmp_path):
    workdir = tmp_path / "run"
    workdir.mkdir()
    workdir.chmod(0o555)
    try:
        with pytest.raises(run_files.RunDirError, match=f"cannot write in {workdir}"):
            tl.train_and_evaluate(small(), workdir, progress=False)
    finally:
        workdir.chmod(0o755)
