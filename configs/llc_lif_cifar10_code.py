"""llc-lif paper, CIFAR-10, as the authors' released code runs it.

    python train.py --config configs/llc_lif_cifar10_code.py --workdir runs/llc_lif_cifar10_code

Target: Table 4, row "Ours": **92.08 %**.

Data: CIFAR-10 through tensorflow-datasets, ``--config.data.data_dir=FOLDER`` (data_dir stays None).

Changes against ``configs/llc_lif_cifar10.py`` (NOTES.md §1): direct coding with a static first conv,
batch 8, PLIF neuron form with detached reset and ATan(2), LLC-BN with its own leak, SAGAN-style OSSA
in a separate onset block with attention dropout 0.1, the code's two local heads (on the first conv's
analog 256×32×32 output and on the last 256×8×8 features) instead of six, seed 2020. No augmentation
is recorded for CIFAR-10.
"""

from __future__ import annotations

import ml_collections

from configs import llc_lif_cifar10, llc_lif_common

ARGS = ()


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    return llc_lif_common.released_code(llc_lif_cifar10.get_config(arg))
