"""The library-API training example shows its progress (a tqdm bar per epoch on stderr), while its
stdout still ends with its JSON result (issue 32 item 4)."""

import json
import os
import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def test_train_with_library_api_shows_a_progress_bar_per_epoch():
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / "train_with_library_api.py"), "1", "192"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "epoch 1/1:" in proc.stderr and "/3 [" in proc.stderr, proc.stderr[-3000:]  # a bar of 192 / 64 steps
    assert "test_accuracy" in json.loads(proc.stdout.strip().splitlines()[-1])
