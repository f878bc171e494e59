"""The training loop's progress bar (snnjax.tool.train_lib): the first call's compilation is announced
in the bar's description, and left out of the bar's clock, so the rate and ETA it shows are those of
the steps (issue 32 item 4: it showed a 28-minute ETA for a one-minute run)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import pytest
from tqdm.auto import tqdm

from snnjax.tool import train_lib as tl

REPO = Path(__file__).resolve().parents[2]


def _smoke_config():
    spec = importlib.util.spec_from_file_location("smoke", REPO / "configs" / "smoke.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    with config.unlocked():  # two epochs of 2 steps on 64 random 8x8 images
        config.data.name = "random"
        config.data.shape = (8, 8, 1)
        config.data.num_train, config.data.num_test = 64, 8
        config.model.spec = "4c3-p2-8c3-p2-20-10"
        config.model.time_steps = 2
        config.train.batch_size = 32
        config.train.eval_batch_size = 8
        config.train.num_epochs = 2.0
        config.train.log_every_steps = 1
        config.train.checkpoint_every_steps = 100
    return config


@pytest.mark.parametrize("loop", ["host", "device"])
def test_the_bar_says_compiling_until_the_first_call_returns_and_its_clock_leaves_it_out(tmp_path, monkeypatch, loop):
    events = []

    class Recorded(tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            events.append(("new", self.desc.rstrip(": "), self._time(), 0.0))

        def update(self, n=1):
            events.append(("update", self.desc.rstrip(": "), self._time(), self._time() - self.start_t))
            return super().update(n)

    monkeypatch.setattr(tl, "tqdm", Recorded)
    config = _smoke_config()
    config.train.loop = loop
    tl.train_and_evaluate(config, tmp_path, progress=True, devices=jax.devices()[:1])

    bars = [e for e in events if e[0] == "new"]
    assert [desc for _, desc, _, _ in bars] == [f"epoch 1/2: {tl.COMPILING}", "epoch 2/2"]  # the first call only
    (_, _, created, _), (_, desc, first_update, elapsed) = events[:2]
    assert desc == "epoch 1/2"  # the bar's description says compiling no more once the first call returned
    first_call = first_update - created  # compiling the train step: seconds on this CPU
    assert first_call > 0.2 and elapsed < 0.1 * first_call  # the bar's clock starts after it
