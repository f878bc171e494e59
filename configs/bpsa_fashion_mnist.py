"""bpsa-bpta recipe on Fashion-MNIST: an offline stand-in for the Table 8 ablation trend.

    python train.py --config configs/bpsa_fashion_mnist.py:baseline --workdir runs/bpsa_fmnist_baseline
    python train.py --config configs/bpsa_fashion_mnist.py:bpsa --workdir runs/bpsa_fmnist_bpsa
    python train.py --config configs/bpsa_fashion_mnist.py --workdir runs/bpsa_fmnist_bpsa_bpta

``arg``: ``bpsa_bpta`` (default), ``bpsa`` or ``baseline``, optionally ``",<T>"`` (Table 9's
latency sweep: ``:baseline,4``).

Target: not a number of the paper. The paper has no Fashion-MNIST experiment; its ablation (Table 8)
is on DVS-Gesture (baseline 93.92 → BPSA 97.56 → BPSA + BPTA 98.96 %) and DVS-CIFAR10 (71.40 → 75.30 →
78.95 %), whose data cannot be downloaded here. These three runs check the same *ordering*
(baseline < BPSA < BPSA + BPTA) on a dataset that is available offline. Table 9's trend (the gap
grows as T shrinks) can be checked with the ``",T"`` argument.

Everything else is ``configs/bpsa_mnist.py`` (the small net, the text recipe, our choices listed in
``configs/bpsa_common.py``) with the data switched to Fashion-MNIST: IDX files via
``--config.data.data_dir=...`` or ``SNNJAX_DATA_DIR`` (data_dir stays None; Debian's
``dataset-fashion-mnist`` package is found automatically).
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import bpsa_mnist

ARGS = ("bpsa_bpta", "bpsa", "baseline", "baseline,4")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    config = bpsa_mnist.get_config(arg)
    config.data.name = "fashion_mnist"
    return config
