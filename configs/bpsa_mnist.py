"""bpsa-bpta paper, MNIST with Table 1's small net, as the text describes it.

    python train.py --config configs/bpsa_mnist.py --workdir runs/bpsa_mnist
    python train.py --config configs/bpsa_mnist.py:baseline --workdir runs/bpsa_mnist_baseline

``arg`` picks the gradient rules (Table 8's columns): ``bpsa_bpta`` (default, the method), ``bpsa``
(BPSA alone) or ``baseline`` (STBP, Wu et al. 2018); ``"<variant>,<T>"`` also sets T
(e.g. ``:baseline,8``).

Targets: Table 2, "Ours" (small net, T = 16): **99.58 ± 0.06 %** mean of five runs, best 99.67 %.
Table 6, MNIST: 99.58 % at firing rate 0.082 (energy efficiency 35.1×) against the baseline's
99.42 % at 0.183 (15.7×). Table 8 has no MNIST column.

Net (Table 1, small): 128C3-MP2-128C3-256C3-MP2-4096FC-DP-10Voting with C = Conv3×3-BN-ReLU-LIF.
Data: MNIST IDX files via ``--config.data.data_dir=...`` or ``SNNJAX_DATA_DIR`` (data_dir stays None).

From the text: T = 16, λ = 0.9, threshold 0.5, BPSA + BPTA α = 0.8, AdamW lr 1e-3, SGDR with
warm-up, 300 epochs, direct input, voting, MSE (Eq. 5). Our choices (the text is silent): batch 64,
weight decay 1e-2, SGDR T_0 = 10 / T_mult = 2 after 5 warm-up epochs, dropout 0.5, detached reset,
the baseline's rectangular surrogate of width 1; see ``configs/bpsa_common.py``.
The released code's recipe is ``configs/bpsa_mnist_code.py``.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import bpsa_common, common

ARGS = ("bpsa_bpta", "bpsa", "baseline")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant, steps = bpsa_common.parse_arg(arg, "bpsa_mnist")
    return common.finish(bpsa_common.text_config("mnist", "small", variant, steps))
