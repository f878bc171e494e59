"""llc-lif paper, Fashion-MNIST, as the authors' released code runs it.

    python train.py --config configs/llc_lif_fashion_mnist_code.py --workdir runs/llc_lif_fashion_mnist_code

Target: Table 3, row "Ours": **94.90 %**.

Data: Fashion-MNIST IDX files via ``--config.data.data_dir=...`` or ``SNNJAX_DATA_DIR`` (data_dir
stays None).

Changes against ``configs/llc_lif_fashion_mnist.py`` (NOTES.md §1): direct coding with a static
first conv, batch 8, PLIF neuron form with detached reset and ATan(2), LLC-BN with its own leak,
SAGAN-style OSSA in a separate onset block with attention dropout 0.1, the code's two local heads,
seed 2020. No augmentation: NOTES records the RandomAffine transform for MNIST only (our reading).
"""

from __future__ import annotations

import ml_collections

from configs import llc_lif_common, llc_lif_fashion_mnist

ARGS = ()


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    return llc_lif_common.released_code(llc_lif_fashion_mnist.get_config(arg))
