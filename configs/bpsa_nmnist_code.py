"""bpsa-bpta paper, N-MNIST, as the authors' released code (``BP-STA``) runs it.

    python train.py --config configs/bpsa_nmnist_code.py --workdir runs/bpsa_nmnist_code

``arg`` as in ``configs/bpsa_nmnist.py`` (``bpsa_bpta`` default, ``bpsa``, ``baseline``, ``",T"``).

Target: Table 4, "Ours": **99.71 %** (Table 6: 99.61 %).

Changes against ``configs/bpsa_nmnist.py`` (NOTES.md §2), nothing else: BPTA coefficient 0.2 instead
of 0.8, AdamW weight decay 1e-4, 5 warm-up epochs then one cosine decay instead of SGDR. The data,
the net and our choices (batch size, frames in equal time slices, ...) are those of the text config.
"""

from __future__ import annotations

import ml_collections

from configs import bpsa_common, bpsa_nmnist

ARGS = bpsa_nmnist.ARGS


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    return bpsa_common.released_code(bpsa_nmnist.get_config(arg))
