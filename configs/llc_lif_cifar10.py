"""llc-lif paper, CIFAR-10, as the text describes it.

    python train.py --config configs/llc_lif_cifar10.py --workdir runs/llc_lif_cifar10

Target: Table 4, row "Ours" (256c3-256c3-256c3-p2-256c3-256c3-256c3-p2-2048-100-10, T = 8):
**92.08 %** test accuracy. Table 4's PLIF row (Fang et al.): 91.71 %.

Data: CIFAR-10 through tensorflow-datasets (``tfds build cifar10`` on a machine with internet, then
``--config.data.data_dir=FOLDER``; data_dir stays None by default). 50,000 / 10,000 images, pixels
in [0, 1] rate-coded per channel. No augmentation (none is stated, and snnjax has no crop/flip).

From the text: rate coding, T = 8, batch 16, Adam, 200 epochs, MSE on rates plus one local
classifier per conv layer — six here (L154: n = number of conv layers), each Flatten → Dropout →
Linear(→100) → LIF → voting, so the three heads on 256×32×32 maps hold 26 M weights each —, LLC-LIF,
LLC-BN α = 3.2, OSSA (text form) after the first conv block, voting 100 → 10.
From the released code because the text is silent: learning rate 1e-3, cosine T_max = 64 epochs,
threshold 1, a₀ = 0, ATan(2). Our choices: see ``configs/llc_lif_common.py``; in addition the
evaluation batch is 128 (memory). The released code's recipe is ``configs/llc_lif_cifar10_code.py``.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import common, llc_lif_common

ARGS = ()


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    common.no_arg(arg, "llc_lif_cifar10")
    return common.finish(llc_lif_common.text_config("cifar10"))
