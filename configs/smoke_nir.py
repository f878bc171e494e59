"""Smoke test of the NIR export: the smoke net with average pooling, which NIR 1.0 can express.

    python train.py --config configs/smoke_nir.py --workdir runs/smoke_nir
    python -m snnjax.export runs/smoke_nir --format nir          # writes runs/smoke_nir/model.nir

``configs/smoke.py`` with max pooling replaced by average pooling ("16c3-ap2-32c3-ap2-100-10"):
conv → BN → LIF blocks, a spiking dense layer of 100 neurons voting for 10 classes, T = 4, direct
coding, hard reset, on ``mnist_small`` (no download). The export folds each BatchNorm into its
convolution and writes Conv2d / AvgPool2d / Affine / LIF nodes. What cannot be exported to NIR 1.0
(max pooling, soft reset, ALIF and CE-LIF neurons, OSSA, ReLU before the neurons, sequence nets)
is named in the export's error; the other smoke configs all use one of those.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import common, smoke

ARGS = ()


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    common.no_arg(arg, "smoke_nir")
    config = smoke.get_config()
    config.model.spec = "16c3-ap2-32c3-ap2-100-10"
    return config
