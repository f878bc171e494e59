"""The ``config.data`` section: every key a dataset may read, with its default."""

from __future__ import annotations

from collections.abc import Mapping

import ml_collections
from ml_collections import config_dict


def default_data_config() -> ml_collections.ConfigDict:
    """A ``config.data`` with all keys at their defaults; configs start from it and override.

    Keys:
        name: the dataset's registry name (see ``snnjax.data.names()``).
        data_dir: folder holding the files (also searched: ``data_dir/<name>``), or None.
        val_fraction: when > 0, this fraction of the END of the training set becomes the
            validation split (deterministic; the test set is untouched).
        seq_len: T of the adding problem and of copy memory (copy memory sequences are T + 20).
        num_train, num_test: sizes of generated sets (adding, copy_memory, random).
        seed: seed of generated sets and of the augmentation.
        time_bins: frames per recording of the neuromorphic sets.
        augment: "none", or "affine" (the llc-lif MNIST RandomAffine; training split only).
        shape: per-example x shape of the "random" set.
        num_classes: number of classes of the "random" set.
    """
    return ml_collections.ConfigDict({
        "name": "mnist_small",
        "data_dir": config_dict.placeholder(str),
        "val_fraction": 0.0,
        "seq_len": 100,
        "num_train": 50_000,
        "num_test": 2_000,
        "seed": 0,
        "time_bins": 10,
        "augment": "none",
        "shape": (28, 28, 1),
        "num_classes": 10,
    })


def with_defaults(cfg: Mapping | ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``cfg`` completed with the defaults of the keys it lacks (``cfg`` itself is not changed)."""
    values = default_data_config().to_dict()
    values.update(cfg.items())
    return ml_collections.ConfigDict(values)
