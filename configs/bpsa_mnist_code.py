"""bpsa-bpta paper, MNIST with the small net, as the authors' released code (``BP-STA``) runs it.

    python train.py --config configs/bpsa_mnist_code.py --workdir runs/bpsa_mnist_code

``arg`` as in ``configs/bpsa_mnist.py`` (``bpsa_bpta`` default, ``bpsa``, ``baseline``, ``",T"``).

Target: Table 2, "Ours": **99.58 ± 0.06 %** (best 99.67 %).
Data: MNIST IDX files via ``--config.data.data_dir=...`` or ``SNNJAX_DATA_DIR`` (data_dir stays None).

Changes against ``configs/bpsa_mnist.py`` (NOTES.md §2), nothing else: BPTA coefficient 0.2 (the
code's ``u += 0.2·(s − s.detach())``) instead of 0.8, AdamW weight decay 1e-4, 5 warm-up epochs then
a single cosine decay instead of SGDR. Batch size is not in the code notes either: 64, our choice.
"""

from __future__ import annotations

import ml_collections

from configs import bpsa_common, bpsa_mnist

ARGS = bpsa_mnist.ARGS


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    return bpsa_common.released_code(bpsa_mnist.get_config(arg))
