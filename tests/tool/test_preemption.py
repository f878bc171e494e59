"""SIGTERM / SIGINT stop a run cleanly (issue 31 item 8): the step in flight finishes, a checkpoint
is saved, the metrics are written, one line says so, and the rerun ends exactly where an
uninterrupted run ends (host loop, and device loop with several steps per call)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from cpu_env import cpu_env
from test_train_lib import smoke_config, tiny

from snnjax.tool import checkpointing
from snnjax.tool import preemption
from snnjax.tool import run_files
from snnjax.tool import steppers
from snnjax.tool import train_lib as tl

REPO = Path(__file__).resolve().parents[2]


def test_the_first_signal_is_recorded_and_a_second_one_gets_the_default_action():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with preemption.StopRequest() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # Python runs the handler at the next bytecode
        assert stop.requested and stop.describe() == "SIGTERM"
        # a second signal ends the process at once: the default action is back for both
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) == signal.SIG_DFL
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def _config(loop: str):
    """16 steps (2 epochs of 8) on random 8x8 images, rate coding and dropout (per-step keys)."""
    config = tiny(smoke_config())
    config.data.name = "random"
    config.data.shape = (8, 8, 1)
    config.data.num_train, config.data.num_test = 256, 16
    config.model.spec = "4c3-p2-8c3-p2-dp-20-10"
    config.model.encoder = "rate"
    config.train.eval_batch_size = 16
    config.train.num_epochs = 2.0
    config.train.log_every_steps = 2
    config.train.checkpoint_every_steps = 4
    config.train.max_checkpoints = 100
    config.train.loop = loop
    config.train.steps_per_call = 3
    return config


def _signal_after(monkeypatch, loop: str, calls: int, signum: int) -> None:
    """Sends ``signum`` to this process right after the ``calls``-th train call returns."""
    count = [0]

    def counting(call):
        def wrapped(*args):
            out = call(*args)
            count[0] += 1
            if count[0] == calls:
                os.kill(os.getpid(), signum)
            return out
        return wrapped

    if loop == "host":
        real = steppers.jit_train_step
        monkeypatch.setattr(steppers, "jit_train_step", lambda *a, **k: counting(real(*a, **k)))
    else:
        real = steppers.make_train_call
        monkeypatch.setattr(steppers, "make_train_call", lambda *a, **k: counting(real(*a, **k)))


def _final(workdir: Path):
    with checkpointing.Checkpointer(workdir / "checkpoints", read_only=True) as ckpt:
        return ckpt.restore()


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["host", "device"])
def test_a_signal_saves_a_checkpoint_and_the_rerun_ends_as_an_uninterrupted_run(tmp_path, monkeypatch, loop):
    reference = tl.train_and_evaluate(_config(loop), tmp_path / "reference", progress=False)
    workdir = tmp_path / "interrupted"
    # host: after the 11th step; device: the 6th call (steps 0-1, 1-2, 2-4, 4-6, 6-8, 8-9): in epoch 1, between cadences
    with monkeypatch.context() as patch:
        _signal_after(patch, loop, 11 if loop == "host" else 6, signal.SIGTERM)
        with pytest.raises(tl.RunInterrupted) as stopped:
            tl.train_and_evaluate(_config(loop), workdir, progress=False)
    message = str(stopped.value)
    step = int(message.split("interrupted at step ")[1].split(" ")[0])
    assert message == (f"interrupted at step {step} (SIGTERM), checkpoint saved; rerun the same command to resume")
    assert 8 < step < 16 and step % 4 != 0  # mid-epoch, not a checkpoint step: saved because of the signal
    state, meta = _final(workdir)
    assert int(state["step"]) == step and meta["step"] == step
    records = run_files.read_jsonl(workdir / "metrics.jsonl")
    assert max(r["step"] for r in records if "train/loss" in r) == step  # the steps' metrics were written
    assert not (workdir / "summary.json").exists()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # put back as it was before the run

    resumed = tl.train_and_evaluate(_config(loop), workdir, progress=False)
    (resumed_state, resumed_meta), (ref_state, ref_meta) = _final(workdir), _final(tmp_path / "reference")
    assert jax.tree.structure(resumed_state) == jax.tree.structure(ref_state)
    for a, b in zip(jax.tree.leaves(resumed_state), jax.tree.leaves(ref_state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert resumed_meta["best"] == ref_meta["best"]
    for key in ("final_test_accuracy", "final_test_loss", "best_test_accuracy", "steps"):
        assert resumed[key] == reference[key], key
    assert resumed["samples_per_s"] is not None


@pytest.mark.slow
def test_ctrl_c_on_train_py_is_one_line_and_the_same_command_resumes(tmp_path):
    workdir = tmp_path / "run"
    args = [sys.executable, "train.py", "--config", "configs/smoke.py", "--workdir", str(workdir),
            "--config.data.name=random", "--config.data.shape=(8,8,1)", "--config.data.num_train=256",
            "--config.data.num_test=16", "--config.model.spec=4c3-p2-8c3-p2-20-10", "--config.model.time_steps=2",
            "--config.train.batch_size=16", "--config.train.eval_batch_size=16", "--config.train.num_epochs=40",
            "--config.train.checkpoint_every_steps=0", "--config.train.loop=host"]
    proc = subprocess.Popen(args, cwd=REPO, env=cpu_env(1), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (workdir / "metrics.jsonl").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # training has started (the writers open just before the first step)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip() and "it/s]" not in line
             and "s/it]" not in line and not line.startswith(("snnjax: ", "epoch "))]
    assert proc.returncode == 1, err
    assert len(lines) == 1, lines
    assert lines[0].startswith("interrupted at step ") and lines[0].endswith(
        " (SIGINT), checkpoint saved; rerun the same command to resume")
    step = int(lines[0].split()[3])
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    with checkpointing.Checkpointer(workdir / "checkpoints", read_only=True) as ckpt:
        assert ckpt.latest_step() == step

    done = subprocess.run(args, cwd=REPO, env=cpu_env(1), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming at step {step}" in done.stderr
    assert json.loads((workdir / "summary.json").read_text())["steps"] == 40 * 16
