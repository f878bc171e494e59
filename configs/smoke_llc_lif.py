"""Smoke test of the llc-lif model family: a tiny LLC-LIF net with LLC-BN, OSSA and local heads.

    python train.py --config configs/smoke_llc_lif.py --workdir runs/smoke_llc_lif

Not a paper result: it checks, end to end, that the llc-lif paper's parts train together — rate
coding, LLC-LIF neurons, LLC-BN (α = 3.2, leak shared with the neurons), OSSA (text form) at t = 0,
one local classifier per conv layer with its MSE added to the global MSE, voting 100 → 10 — on
``mnist_small`` (5,000 / 1,000 MNIST images shipped with snnjax; nothing to download). The net is
"8c3-p2-16c3-p2-64-dp-100-10" (the paper's layout, narrower) at T = 4, batch 32, trained on a fifth
of an epoch (31 steps; about 60 % test accuracy). OSSA's 784×784 attention at t = 0 dominates the
cost: about 35 s of CPU time (45 s wall on a busy 2-core machine).
The paper's configs are ``configs/llc_lif_*.py``.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import common, llc_lif_common

ARGS = ()


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    common.no_arg(arg, "smoke_llc_lif")
    config = llc_lif_common.text_config("mnist")
    config.data.name = "mnist_small"
    config.model.spec = "8c3-p2-16c3-p2-64-dp-100-10"
    config.model.time_steps = 4
    config.optim.learning_rate = 2e-3
    config.optim.schedule = "constant"
    config.train.batch_size = 32
    config.train.eval_batch_size = 100  # OSSA's 784×784 attention maps at t = 0
    config.train.num_epochs = 0.2
    config.train.log_every_steps = 20
    config.train.checkpoint_every_steps = 100
    return common.finish(config)
