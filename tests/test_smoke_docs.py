"""The shortened smoke run that configs/smoke.py suggests evaluates honestly.

Evaluation uses the BatchNorm running statistics (momentum 0.9, starting at mean 0 / variance 1);
after n steps they still hold 0.9^n of those initial values, and below about 40 steps the smoke net's
normalised currents stay under threshold at evaluation (8.5 % = chance after 4 and 20 steps; 91.6 %
after 40). The suggestion must leave at most 2 % of the initial statistics.
"""

import re

from configs import smoke
from snnjax.layers import LLCBatchNorm


def _suggested_steps() -> int:
    doc = smoke.__doc__
    match = re.search(r"--config\.train\.num_steps=(\d+)", doc)
    if match:
        return int(match.group(1))
    epochs = float(re.search(r"--config\.train\.num_epochs=([\d.]+)", doc).group(1))
    return int(epochs * 5000 // smoke.get_config().train.batch_size)


def test_smoke_shortening_suggestion_leaves_running_statistics_of_the_trained_net():
    momentum = LLCBatchNorm.momentum
    assert momentum == 0.9
    steps = _suggested_steps()
    assert steps >= 40
    assert momentum**steps < 0.02
