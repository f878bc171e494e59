"""CE-LIF paper, the adding problem (Fig. 5 a–d), feedforward CE-LIF net [64,256,256].

    python train.py --config configs/ce_lif_adding.py --workdir runs/ce_lif_adding_200
    python train.py --config configs/ce_lif_adding.py:500 --workdir runs/ce_lif_adding_500

``arg``: the sequence length T (default 200; any positive integer).

Target: Fig. 5 (a–d), learning curves of the test MSE: CE-LIF converges at all four lengths, far
below the trivial baseline MSE 0.167 (= Var(U + U') = 1/6, "Memory Capacity Analysis"), with a slight
rise as T grows. The four lengths were lost in the text copy, so T = 200 is our choice; run several.

Task (generated, nothing to download): two input channels of length T, values U[0, 1] and an
indicator with two 1s; the target is the sum of the two marked values (``data.name="adding"``,
51,200 training / 2,000 test sequences, regenerated identically from ``data.seed``).

From the text: hidden [64,256,256], MSE loss ("Memory Capacity Analysis"), lr 5e-4, batch 256, the
CE-LIF constants. Our choices: ``readout="last"`` — the output of the last step is the prediction. The
text says "the model will output the sum after receiving all entries" (same section), while its
general rule of averaging the classifier over all steps (Supplementary Materials, "Experiment Specific
Configuration") would average outputs made before the second marked value has
arrived, which cannot equal the sum. 20,000 training iterations (``train.num_steps``; the paper's
budget is not stated), Adam with a constant rate, and ``configs/ce_lif_common.py``'s choices.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import ce_lif_common, common

ARGS = ("200", "100", "500")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    seq_len = common.positive_int(arg, 200, "ce_lif_adding")
    config = ce_lif_common.sequence_config(
        dataset="adding",
        encoder="sequence",
        hidden=(64, 256, 256),
        readout="last",
        loss="mse_regression",
        learning_rate=5e-4,
    )
    config.data.seq_len = seq_len
    config.data.num_train = 51_200  # 200 steps of 256 per "epoch" (evaluation period)
    config.data.num_test = 2_000
    config.train.num_steps = 20_000
    return common.finish(config)
