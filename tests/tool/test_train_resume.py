"""An interrupted ``train.py`` run resumed from its workdir ends exactly like an uninterrupted one.

The run is started as a user would (``python train.py --config configs/smoke.py --workdir W``),
killed with SIGKILL once a mid-epoch checkpoint exists (the device loop, several steps per call), and started again with the same command. Its
final state must equal that of an uninterrupted run in another workdir: same batches (permutation
from (seed, epoch)), same dropout/encoder keys (fold_in(key, step)), same step count. The run uses
rate coding and dropout, so the per-step keys matter, and is killed in its second epoch, so the
epoch permutation must not depend on what the process did before. On CPU, XLA is deterministic, so
the comparison is exact.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np

from snnjax.tool.checkpointing import Checkpointer

REPO = Path(__file__).resolve().parents[2]
MID_EPOCH_STEP = 12  # checkpoint_every_steps=3 with 8 steps per epoch: step 4 of epoch 1
TOTAL_STEPS = 24
SHRINK = [
    "--config.data.name=random", "--config.data.shape=(8,8,1)", "--config.data.num_train=128",
    "--config.data.num_test=16", "--config.model.spec=4c3-p2-8c3-p2-dp-20-10", "--config.model.time_steps=2",
    "--config.model.encoder=rate",  # rate coding and dropout: the per-step RNG matters
    "--config.train.batch_size=16", "--config.train.eval_batch_size=16", "--config.train.num_epochs=3",
    "--config.train.checkpoint_every_steps=3", "--config.train.max_checkpoints=100",
    "--config.train.log_every_steps=3",
    # the device loop with up to 4 steps per call; calls are cut at the log/checkpoint steps (3, 6, ...)
    "--config.train.loop=device", "--config.train.steps_per_call=4",
]
LOG_STEPS = sorted(set(range(3, TOTAL_STEPS + 1, 3)) | {8, 16, 24})  # every 3 steps and each epoch's end


def _start(workdir: Path, cache: Path) -> subprocess.Popen:
    # XLA_FLAGS from conftest: 4 CPU devices. The compilation cache lets the resumed run reuse the
    # killed run's executables (the same programs), which keeps the test short.
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(cache),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    cmd = [sys.executable, "train.py", "--config", "configs/smoke.py", "--workdir", str(workdir), *SHRINK]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, timeout: float = 120) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"train.py failed:\n{out}\n{err}"
    return err


def _final_state(workdir: Path):
    with Checkpointer(workdir / "checkpoints") as ckpt:
        assert ckpt.latest_step() == TOTAL_STEPS
        state, meta = ckpt.restore()
    return state, meta


def test_killed_run_resumes_to_the_same_parameters(tmp_path):
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    proc = _start(interrupted, tmp_path / "cache")
    mid = interrupted / "checkpoints" / str(MID_EPOCH_STEP)
    deadline = time.time() + 120
    while not mid.is_dir() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert mid.is_dir(), "no mid-epoch checkpoint appeared"
    # Resume from exactly the mid-epoch checkpoint, whatever the run managed to write after it.
    for path in (interrupted / "checkpoints").iterdir():
        if path.name[:1].isdigit() and path.name != str(MID_EPOCH_STEP):  # later steps and tmp dirs
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    (interrupted / "summary.json").unlink(missing_ok=True)

    # The resumed and the reference run share nothing but copies of the compilation cache.
    shutil.copytree(tmp_path / "cache", tmp_path / "cache_ref")
    resumed, ref_proc = _start(interrupted, tmp_path / "cache"), _start(reference, tmp_path / "cache_ref")
    err = _finish(resumed)
    assert f"resuming at step {MID_EPOCH_STEP}" in err
    _finish(ref_proc)

    (resumed_state, resumed_meta), (ref_state, ref_meta) = _final_state(interrupted), _final_state(reference)
    assert jax.tree.structure(resumed_state) == jax.tree.structure(ref_state)
    for a, b in zip(jax.tree.leaves(resumed_state), jax.tree.leaves(ref_state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert resumed_meta["best"] == ref_meta["best"]
    assert (interrupted / "summary.json").exists()
    # metrics.jsonl: the killed run's records after the checkpoint were dropped, the losses match
    resumed_losses, ref_losses = _train_losses(interrupted), _train_losses(reference)
    assert [s for s, _ in resumed_losses] == LOG_STEPS
    assert resumed_losses == ref_losses


def _train_losses(workdir: Path) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train/loss"]) for r in records if "train/loss" in r]
