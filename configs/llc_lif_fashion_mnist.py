"""llc-lif paper, Fashion-MNIST, as the text describes it.

    python train.py --config configs/llc_lif_fashion_mnist.py --workdir runs/llc_lif_fashion_mnist

Target: Table 3, row "Ours" (128c3-p2-128c3-p2-2048-100-10, T = 8): **94.90 %** test accuracy, the
same run as Table 5 row 1 (all techniques). Table 3's PLIF row (Fang et al., re-run by the authors
with the same batch size and epochs): 93.67 %. The ablation rows are ``configs/llc_lif_ablation.py``.

Data: Fashion-MNIST from the original IDX files. ``data.data_dir`` stays None: pass
``--config.data.data_dir=/path/to/fashion-mnist`` or set ``SNNJAX_DATA_DIR`` (Debian's
``dataset-fashion-mnist`` package is found in /usr/share/datasets/fashion-mnist). 60,000 / 10,000.

From the text: rate coding, T = 8, batch 16, Adam, 200 epochs, MSE on rates plus one local
classifier per conv layer (2), LLC-LIF, LLC-BN α = 3.2, OSSA (text form), voting 100 → 10.
From the released code because the text is silent: learning rate 1e-3, cosine T_max = 64 epochs,
threshold 1, a₀ = 0, ATan(2). Our choices: see ``configs/llc_lif_common.py``.
The released code's recipe is ``configs/llc_lif_fashion_mnist_code.py``.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import common, llc_lif_common

ARGS = ()


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    common.no_arg(arg, "llc_lif_fashion_mnist")
    return common.finish(llc_lif_common.text_config("fashion_mnist"))
