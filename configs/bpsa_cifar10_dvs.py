"""bpsa-bpta paper, DVS-CIFAR10 (CIFAR10-DVS) with Table 1's large net, as the text describes it.

    python train.py --config configs/bpsa_cifar10_dvs.py --workdir runs/bpsa_cifar10_dvs
    python train.py --config configs/bpsa_cifar10_dvs.py:baseline --workdir runs/bpsa_cifar10_dvs_baseline

``arg``: ``bpsa_bpta`` (default), ``bpsa`` or ``baseline`` — Table 8's columns — optionally ``",<T>"``.

Targets: Table 7, "Ours" (T = 16): **78.95 %** (the caption wrongly says "on MNIST"); Table 6 lists
77.76 % (firing rate 0.097, 29.5×). Table 8: baseline 71.40 %, BPSA 75.30 %, BPSA + BPTA 78.95 %.

Net (Table 1, large), C = Conv-BN-ReLU-LIF, voting 100 → 10.
Data: CIFAR10-DVS events read by tonic (``pip install tonic``) from tonic's layout
(``DATA_DIR/CIFAR10DVS/<class>/*.aedat4``) under ``--config.data.data_dir=DATA_DIR`` or
``SNNJAX_DATA_DIR`` (data_dir stays None); T = 16 frames ``[16, 128, 128, 2]`` of event counts in
equal time slices (the text follows SpikingJelly, whose frames hold equal event counts: a known
difference). The set has no official split: snnjax takes the first 90 % of each class's recordings
(file-name order) for training and the rest for testing, as SpikingJelly's usual 9:1 split does.

From the text: T = 16, λ = 0.9, threshold 0.5, BPSA + BPTA α = 0.8, AdamW lr 1e-3, SGDR with
warm-up, 300 epochs, voting, MSE. Our choices: native 128×128 input, batch 16 and evaluation batch 32
(memory), no augmentation, and those of ``configs/bpsa_common.py``.
Released-code recipe: ``configs/bpsa_cifar10_dvs_code.py``.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import bpsa_common, common

ARGS = ("bpsa_bpta", "bpsa", "baseline")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant, steps = bpsa_common.parse_arg(arg, "bpsa_cifar10_dvs")
    return common.finish(bpsa_common.text_config("cifar10_dvs", "large", variant, steps))
