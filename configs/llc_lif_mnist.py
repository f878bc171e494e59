"""llc-lif paper, MNIST, as the text describes it (Shi et al., Sensors 2023).

    python train.py --config configs/llc_lif_mnist.py --workdir runs/llc_lif_mnist

Target: Table 2, row "Ours" (128c3-p2-128c3-p2-2048-100-10, T = 8): **99.67 %** test accuracy
(one number; mean or best of how many runs is not stated). The PLIF baseline of the same table
(Fang et al., 99.60 %) is the same net with LIF-family neurons and no LLC-BN, OSSA or local losses.

Data: MNIST from the original IDX files. ``data.data_dir`` stays None: pass
``--config.data.data_dir=/path/to/mnist`` or set ``SNNJAX_DATA_DIR`` (tensorflow-datasets is tried
last). The full 60,000 / 10,000 split is used (the text's "50,000 training samples" is wrong).

From the text: rate coding, T = 8, batch 16, Adam, 200 epochs, MSE on the output rates plus one
local classifier per conv layer (2 here), LLC-LIF (retention form), LLC-BN α = 3.2, OSSA (text
form) at t = 0, voting 100 → 10. Learning rate 1e-3 with cosine annealing T_max = 64 epochs, threshold
1, a₀ = 0 and ATan(2) are not in the text: they are the released code's values. Our choices where
both are silent (max pooling, dropout 0.5, ...) are listed in ``configs/llc_lif_common.py``.
The released code's recipe is ``configs/llc_lif_mnist_code.py``.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import common, llc_lif_common

ARGS = ()


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    common.no_arg(arg, "llc_lif_mnist")
    return common.finish(llc_lif_common.text_config("mnist"))
