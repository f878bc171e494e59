"""Multi-host start: 2 processes × 2 CPU devices over ``jax.distributed`` on 127.0.0.1 train the same
network as 1 process × 4 devices (same data order, same global batch, same parameters).

Each process runs the very command a user runs on each host (README, "Several hosts"), with
``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` set.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import jax

from snnjax.tool import checkpointing

REPO = Path(__file__).resolve().parents[2]
# A tiny run: 3 steps of a small conv net, evaluated on the 1,000 test images.
ARGS = ["--config", "configs/smoke.py", "--config.model.spec=4c3-p2-8c3-p2-20-10", "--config.train.num_steps=3",
        "--config.train.checkpoint_every_steps=3", "--config.train.batch_size=16", "--config.train.eval_batch_size=1000"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices: int, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COORDINATOR", "JAX_NUM_PROC", "JAX_PROCESS"))}
    env.update(XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu", **extra)
    return env


def _params(workdir: Path) -> list[np.ndarray]:
    with checkpointing.Checkpointer(workdir / "checkpoints", read_only=True) as ckpt:
        state, meta = ckpt.restore()
    assert meta["step"] == 3
    return [np.asarray(x) for x in jax.tree.leaves(state["params"])]


def test_two_processes_of_two_devices_equal_one_process_of_four(tmp_path):
    # The reference first, alone: on a loaded 2-core machine a third process beside the pair can delay
    # one of them past gloo's fixed 30 s rendezvous at the first collective.
    single = subprocess.run([sys.executable, "train.py", *ARGS, "--workdir", str(tmp_path / "1x4")], cwd=REPO,
                            env=_env(4), capture_output=True, text=True, timeout=300)
    port = _free_port()
    multi = [
        subprocess.Popen([sys.executable, "train.py", *ARGS, "--workdir", str(tmp_path / "2x2")], cwd=REPO,
                         env=_env(2, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
                                  JAX_PROCESS_ID=str(i)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in multi]
    for p, (_, err) in zip(multi, outputs):
        assert p.returncode == 0, err[-3000:]
    assert single.returncode == 0, single.stderr[-3000:]
    assert "on 4 cpu device(s)" in outputs[0][1] and "on 4 cpu device(s)" in single.stderr
    for a, b in zip(_params(tmp_path / "2x2"), _params(tmp_path / "1x4"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    s_multi = json.loads((tmp_path / "2x2" / "summary.json").read_text())
    s_single = json.loads((tmp_path / "1x4" / "summary.json").read_text())
    key = next(k for k in s_single if "accuracy" in k and isinstance(s_single[k], float))
    assert s_multi[key] == s_single[key]
