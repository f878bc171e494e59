"""bpsa-bpta paper, CIFAR-10 with Table 1's middle net, as the text describes it.

    python train.py --config configs/bpsa_cifar10.py --workdir runs/bpsa_cifar10

``arg``: ``bpsa_bpta`` (default), ``bpsa`` or ``baseline``, optionally ``",<T>"``.

Targets: Table 3, "Ours" (middle net, T = 16): **92.15 %**; Table 6 lists 92.33 % for the same
setting (firing rate 0.108, 26.6×) against the baseline's 89.49 % (0.214, 13.4×).

Net (Table 1, middle): 128C3-MP2-128C3-MP2-256C3-MP2-512C3-AP4-512FC-10Voting, C = Conv-BN-ReLU-LIF.
Data: CIFAR-10 through tensorflow-datasets, ``--config.data.data_dir=FOLDER`` (data_dir stays None).
No augmentation (none is stated; snnjax has no crop/flip).

From the text: T = 16, λ = 0.9, threshold 0.5, BPSA + BPTA α = 0.8, AdamW lr 1e-3, SGDR with
warm-up, 300 epochs, direct input, voting, MSE. Our choices: batch 64, evaluation batch 128, weight
decay 1e-2, SGDR T_0 = 10 / T_mult = 2 after 5 warm-up epochs, detached reset (``configs/bpsa_common.py``).
The released code's CIFAR-10 recipe (T = 8, 500 epochs) is ``configs/bpsa_cifar10_code.py``.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import bpsa_common, common

ARGS = ("bpsa_bpta", "bpsa", "baseline")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant, steps = bpsa_common.parse_arg(arg, "bpsa_cifar10")
    return common.finish(bpsa_common.text_config("cifar10", "middle", variant, steps))
