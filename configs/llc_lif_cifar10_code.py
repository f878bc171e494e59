"""llc-lif paper, CIFAR-10, as the authors' released code runs it.

    python train.py --config configs/llc_lif_cifar10_code.py --workdir runs/llc_lif_cifar10_code

Target: Table 4, row "Ours": **92.08 %**.

Data: CIFAR-10 through tensorflow-datasets, ``--config.data.data_dir=FOLDER`` (data_dir stays None).

Changes against ``configs/llc_lif_cifar10.py``: the released network (docs/papers.md §1.7, set by
``llc_lif_common.released_code``): direct coding with a static first conv, batch 8, PLIF neuron form
with detached reset and ATan(2), LLC-BN with its own leak, SAGAN-style OSSA in a separate onset
block with attention dropout 0.1, the code's two local heads, seed 2020; and the details of the
released forward: the trunk called twice per step (``model.trunk_calls=2``, a quirk of the released
code kept on purpose), two first LLC-LIF layers for t = 0 and t ≥ 1
(``model.first_neuron="split"``), no bias in any Linear (``model.dense_bias=False``), per-step
LLC-BN statistics in training (``model.norm_stats="per_step"``), average pooling and a dropout
before the first Linear (``model.spec``, ``model.pool="avg"``). The CIFAR-10 head has one dropout,
before the first Linear. Not reproduced: ``train.py``'s RandomCrop + flip augmentation and input
normalisation. Parameters: 67,605,087.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import llc_lif_cifar10, llc_lif_common

ARGS = ()


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    return llc_lif_common.released_code(llc_lif_cifar10.get_config(arg))
