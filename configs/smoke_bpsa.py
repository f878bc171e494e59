"""Smoke test of the bpsa-bpta model family: a tiny Conv-BN-ReLU-LIF net with BPSA + BPTA.

    python train.py --config configs/smoke_bpsa.py --workdir runs/smoke_bpsa
    python train.py --config configs/smoke_bpsa.py:baseline --workdir runs/smoke_bpsa_baseline

Not a paper result: it checks, end to end and in about 15 s on a 2-core CPU, that the bpsa-bpta
paper's training runs — direct input, Conv-BN-ReLU-LIF blocks with λ = 0.9 and threshold 0.5, the
BPSA gradient (1/u at spikes), the BPTA temporal residual (α = 0.8), voting 100 → 10, the summed
MSE, AdamW with a warm-up then SGDR — on ``mnist_small`` (bundled, nothing to download). The net is
"8c3-mp2-16c3-mp2-100-10" at T = 4, trained for half an epoch (78 steps of 32; BPSA learns slowly
at first: 50–60 % test accuracy). ``arg`` picks the gradient rules as in the paper configs
(``bpsa_bpta`` default, ``bpsa``, ``baseline``).
The paper's configs are ``configs/bpsa_*.py``.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import bpsa_common, common

ARGS = ("bpsa_bpta", "bpsa", "baseline")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant, steps = bpsa_common.parse_arg(arg, "smoke_bpsa")
    config = bpsa_common.text_config("mnist", "small", variant, 4 if steps is None else steps)
    config.data.name = "mnist_small"
    config.model.spec = "8c3-mp2-16c3-mp2-100-10"
    config.optim.warmup_epochs = 0.1
    config.optim.sgdr_period_epochs = 0.2
    config.optim.sgdr_mult = 1.0
    config.optim.schedule_per_epoch = False
    config.train.batch_size = 32
    config.train.eval_batch_size = 500
    config.train.num_epochs = 0.5
    config.train.log_every_steps = 10
    config.train.checkpoint_every_steps = 100
    return common.finish(config)
