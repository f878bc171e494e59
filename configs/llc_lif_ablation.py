"""llc-lif paper, the ablation of Table 5 on Fashion-MNIST: one row per ``arg``.

    python train.py --config configs/llc_lif_ablation.py:no_ossa --workdir runs/llc_lif_ablation_no_ossa

(any row name below in place of ``no_ossa``; without ``:row`` the full model runs). Table 5 was run
with batch 16 for 200 epochs (L180), i.e. on ``configs/llc_lif_fashion_mnist.py``, which every row
starts from and changes only in the removed parts.

Data: Fashion-MNIST IDX files via ``--config.data.data_dir=...`` or ``SNNJAX_DATA_DIR`` (data_dir
stays None).

Targets, Table 5 (test accuracy; the table's ✓/× marks were lost in the text copy, the rows are read
from the wording of L180 and the × counts per row):

==================  ========  ==========  =====  ====  ========
arg                 LLC-LIF   local err.  LLC-BN OSSA  Table 5
==================  ========  ==========  =====  ====  ========
``full``            ✓         ✓           ✓      ✓     94.90
``no_llc_lif``      ×         ✓           ✓      ✓     94.58
``no_local``        ✓         ×           ✓      ✓     94.68
``no_llc_bn``       ✓         ✓           ×      ✓     94.85
``no_ossa``         ✓         ✓           ✓      ×     94.87
``no_llc_bn_ossa``  ✓         ✓           ×      ×     94.72
``llc_lif_only``    ✓         ×           ×      ×     94.47
==================  ========  ==========  =====  ====  ========

What replaces a removed part is not stated anywhere; our reading:

- no LLC-LIF → LIF neurons with a fixed leak k = 0.5 = sigmoid(0), the value LLC-LIF starts from,
  same threshold, reset and surrogate. LLC-BN stays, but with no neuron leak to share it scales by
  its own learnable sigmoid(w) (w₀ = 0, so α·k = 1.6 at the start), as snnjax does for non-LLC
  neurons. The OSSA block keeps its LLC-LIF neurons: they are part of OSSA's definition (L116).
- no local error signal → no local classifiers (``local_heads="none"``); the loss is the global MSE.
- no LLC-BN → plain BatchNorm (statistics over T, N, H, W; α·k = 1), not "no normalisation".
- no OSSA → the first conv block's spikes go straight to pooling.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import common, llc_lif_fashion_mnist

ARGS = ("full", "no_llc_lif", "no_local", "no_llc_bn", "no_ossa", "no_llc_bn_ossa", "llc_lif_only")

# Which of the four techniques each row removes.
REMOVED = {
    "full": (),
    "no_llc_lif": ("llc_lif",),
    "no_local": ("local",),
    "no_llc_bn": ("llc_bn",),
    "no_ossa": ("ossa",),
    "no_llc_bn_ossa": ("llc_bn", "ossa"),
    "llc_lif_only": ("local", "llc_bn", "ossa"),
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    row = common.choose(arg, ARGS, "llc_lif_ablation")
    config = llc_lif_fashion_mnist.get_config()
    removed = REMOVED[row]
    if "llc_lif" in removed:
        config.model.neuron.kind = "lif"
        config.model.neuron.decay = 0.5  # sigmoid(0): LLC-LIF's initial leak, now fixed
    if "local" in removed:
        config.model.local_heads = "none"
    if "llc_bn" in removed:
        config.model.norm = "bn"
    if "ossa" in removed:
        config.model.ossa = False
    return config
