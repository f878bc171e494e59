"""bpsa-bpta paper, DVS-CIFAR10, as the authors' released code (``BP-STA``) runs it.

    python train.py --config configs/bpsa_cifar10_dvs_code.py --workdir runs/bpsa_cifar10_dvs_code

``arg`` as in ``configs/bpsa_cifar10_dvs.py`` (``bpsa_bpta`` default, ``bpsa``, ``baseline``, ``",T"``).

Target: Table 7, "Ours": **78.95 %**; Table 8: baseline 71.40 %, BPSA 75.30 %, BPSA + BPTA 78.95 %.

Changes against ``configs/bpsa_cifar10_dvs.py`` (NOTES.md §2), nothing else: BPTA coefficient 0.2 instead
of 0.8, AdamW weight decay 1e-4, 5 warm-up epochs then one cosine decay instead of SGDR. The data,
the net and our choices (batch size, frames in equal time slices, ...) are those of the text config.
"""

from __future__ import annotations

import ml_collections

from configs import bpsa_cifar10_dvs, bpsa_common

ARGS = bpsa_cifar10_dvs.ARGS


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    return bpsa_common.released_code(bpsa_cifar10_dvs.get_config(arg))
