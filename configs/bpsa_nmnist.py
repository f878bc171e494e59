"""bpsa-bpta paper, N-MNIST with Table 1's middle net, as the text describes it.

    python train.py --config configs/bpsa_nmnist.py --workdir runs/bpsa_nmnist

``arg``: ``bpsa_bpta`` (default), ``bpsa`` or ``baseline``, optionally ``",<T>"`` (frames = T).

Targets: Table 4, "Ours" (T = 16): **99.71 %**; Table 6 lists 99.61 % (firing rate 0.097, 29.6×)
against the baseline's 99.32 % (0.176, 16.3×).

Net: the middle net, "set the same as that in the CIFAR10 experiment" (L152); on 34×34 frames the
pools give 34 → 17 → 8 → 4 → 1, so 512 features reach the 512FC layer.
Data: N-MNIST events read by tonic (``pip install tonic``) from tonic's layout
(``DATA_DIR/NMNIST/Train/...``) under ``--config.data.data_dir=DATA_DIR`` or ``SNNJAX_DATA_DIR``
(data_dir stays None); each recording becomes ``data.time_bins`` = T = 16 frames of per-pixel,
per-polarity event counts ``[16, 34, 34, 2]``, fed one frame per step (``encoder="sequence"``).
The text uses "the same data preprocessing strategy used in SpikingJelly" (L108), which splits a
recording into frames of equal *event counts*; tonic's ``ToFrame(n_time_bins=T)`` used here splits
it into equal *time* slices — a known difference, and our choice of the one snnjax reads.

From the text: T = 16, λ = 0.9, threshold 0.5, BPSA + BPTA α = 0.8, AdamW lr 1e-3, SGDR with
warm-up, 300 epochs, voting, MSE. Our choices: batch 64, evaluation batch 128, native 34×34
resolution, and those of ``configs/bpsa_common.py``. Released-code recipe: ``configs/bpsa_nmnist_code.py``.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import bpsa_common, common

ARGS = ("bpsa_bpta", "bpsa", "baseline")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant, steps = bpsa_common.parse_arg(arg, "bpsa_nmnist")
    return common.finish(bpsa_common.text_config("nmnist", "middle", variant, steps))
