"""Smoke test of the CE-LIF model family: a tiny feedforward CE-LIF net on the adding problem.

    python train.py --config configs/smoke_ce_lif.py --workdir runs/smoke_ce_lif

Not a paper result: it checks, end to end and in about 20 s on a 2-core CPU, that CE-LIF neurons
(α = 0.5, ρ = 0.99, θ₀ = 0.3, boxcar 0.2) with a shared learnable temporal encoding TE, the sequence
encoder, the last-step readout and the MSE regression loss train together. The task is the adding
problem with T = 20 (generated, nothing to download; the trivial MSE is 0.167), hidden [32,64,64],
batch 64, 1,000 iterations (test MSE about 0.04). The paper's configs are ``configs/ce_lif_*.py``.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import ce_lif_common, common

ARGS = ()


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    common.no_arg(arg, "smoke_ce_lif")
    config = ce_lif_common.sequence_config(
        dataset="adding",
        encoder="sequence",
        hidden=(32, 64, 64),
        readout="last",
        loss="mse_regression",
        learning_rate=3e-3,
    )
    config.data.seq_len = 20
    config.data.num_train = 6_400
    config.data.num_test = 1_000
    config.train.batch_size = 64
    config.train.eval_batch_size = 500
    config.train.num_steps = 1_000
    config.train.log_every_steps = 20
    config.train.checkpoint_every_steps = 100
    return common.finish(config)
