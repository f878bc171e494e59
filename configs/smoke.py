"""Smoke test of the whole training tool: a small spiking conv net on the bundled MNIST subset.

    python train.py --config configs/smoke.py --workdir runs/smoke

What it is for: checking an installation or a change end to end (data, model, surrogate gradients,
BatchNorm, data-parallel step, evaluation, checkpoints, metrics, summary with firing rates and the
energy estimate) in about a minute on a 2-core CPU, with no GPU and no download. It is not a paper
result. It trains "16c3-p2-32c3-p2-100-10" (two conv blocks conv → BN → LIF, a spiking dense layer
of 100 neurons voting for 10 classes) with T = 4 steps of direct coding, the rate MSE loss and Adam,
on ``mnist_small`` (5,000 training / 1,000 test images shipped with snnjax), in 3 epochs, and
reaches about 96% test accuracy.

Shrink it from the command line to no fewer than 40 steps, e.g. ``--config.train.num_steps=40``
(91.6 % test accuracy, 1 device of a 2-core CPU). Runs of 4 or 20 steps evaluate at chance (8.5 %,
no output spike) while their training accuracy is well above it: evaluation uses the BatchNorm running statistics, which start at mean 0 /
variance 1 and move with momentum 0.9, so after n steps they still hold 0.9^n of those initial values
(66 % after 4 steps, 12 % after 20, 1.5 % after 40) and the normalised currents stay below threshold
(``docs/running.md``).
"""

from __future__ import annotations

import ml_collections

from snnjax.tool.config import base_config
from snnjax.configs import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    common.no_arg(arg, "smoke")
    config = base_config()
    config.data.name = "mnist_small"

    config.model.arch = "conv"
    config.model.spec = "16c3-p2-32c3-p2-100-10"
    config.model.time_steps = 4
    config.model.encoder = "direct"
    config.model.norm = "bn"
    config.model.neuron.kind = "lif"
    config.model.neuron.decay = 0.5
    config.model.neuron.decay_input = True  # v <- k v + (1 - k) x: trains much faster here than v <- k v + x
    config.model.neuron.surrogate = "sigmoid"

    config.loss.name = "mse_rate"

    config.optim.name = "adam"
    config.optim.learning_rate = 5e-3
    config.optim.schedule = "cosine"
    config.optim.schedule_per_epoch = False

    config.train.batch_size = 64
    config.train.eval_batch_size = 500
    config.train.num_epochs = 3.0
    config.train.checkpoint_every_steps = 100
    config.train.log_every_steps = 10
    config.lock()
    return config
