"""CE-LIF paper, the copy memory problem (Fig. 5 e–h), feedforward CE-LIF net [64,256,256].

    python train.py --config configs/ce_lif_copy_memory.py --workdir runs/ce_lif_copy_100
    python train.py --config configs/ce_lif_copy_memory.py:200 --workdir runs/ce_lif_copy_200
    python train.py --config configs/ce_lif_copy_memory.py:100,alif --workdir runs/alif_copy_100

``arg``: ``T[,neuron]``: the blank interval T (default 100; any positive integer; sequences have
T + 20 steps) and the hidden neurons (default ``ce_lif``; ``lif``, ``plif``, ``alif``: the baselines
of ``ce_lif_common.NEURONS``, e.g. Fig. 6's ALIF).

Target: Fig. 5 (e–h), learning curves of the cross-entropy: CE-LIF "can converge within 5,000
iterations" (Experiments, "Memory Capacity Analysis"), well below the baseline loss
10·ln 8 / (T + 20) (0.173 at T = 100), which LSTM and ALIF do not pass. The four T values (and Fig. 6's T) were lost in the text copy, so T = 100
is our choice; run several.

Task (generated, nothing to download; docs/papers.md §3.8): 10 digits uniform in 1..8, T blanks (0), then the
marker 9 on each of the last 10 steps, one-hot over 10 symbols; the targets are 0 except on the last
10 steps, which must reproduce the digits in order (``data.name="copy_memory"``, 51,200 training /
2,000 test sequences).

From the text: hidden [64,256,256], lr 1e-3, batch 256, cross-entropy ("Memory Capacity Analysis"),
one prediction per step (``readout="per_step"``; the time-averaged readout of the Supplementary
Materials' "Experiment Specific Configuration" cannot output a sequence), a
5,000-iteration budget (``train.num_steps``). The supplement's row for this task lists only three
constants (0.5, 0.3, 0.2): we read them as α, θ₀ and the boxcar width and keep ρ = 0.99 from the
other rows. Our choices: T = 100, Adam with a constant rate, and ``configs/ce_lif_common.py``'s.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import ce_lif_common, common

ARGS = ("100", "50", "200", "100,alif")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    blank_arg, _, neuron_arg = (arg or "").partition(",")
    blank = common.positive_int(blank_arg, 100, "ce_lif_copy_memory")
    neuron = neuron_arg.strip() or "ce_lif"
    if neuron not in ce_lif_common.NEURONS:
        raise ValueError(f"config 'ce_lif_copy_memory': unknown neuron {neuron!r} in {arg!r}; choose one of "
                         f"{list(ce_lif_common.NEURONS)}, e.g. --config ce_lif_copy_memory:{blank},alif")
    config = ce_lif_common.sequence_config(
        dataset="copy_memory",
        encoder="sequence",
        hidden=(64, 256, 256),
        readout="per_step",
        loss="cross_entropy",
        learning_rate=1e-3,
        neuron=neuron,
    )
    config.data.seq_len = blank
    config.data.num_train = 51_200
    config.data.num_test = 2_000
    config.train.num_steps = 5_000
    return common.finish(config)
