"""The training config: sections ``data``, ``model``, ``optim``, ``train``, ``loss``.

Experiment files in ``configs/`` start from :func:`base_config` and change what their paper says::

    def get_config(arg=None):
        config = base_config()
        config.data.name = "fashion_mnist"
        ...
        return config

Every section holds all of its keys with defaults, so an override of a key that does not exist
(``--config.optim.lerning_rate=...``) is an error, not a silently ignored setting.
"""

from __future__ import annotations

import ml_collections

from snnjax.io.data.config import default_data_config
from snnjax.nn.models import default_model_config
from snnjax.tool.optim import default_optim_config


def default_train_config() -> ml_collections.ConfigDict:
    """``config.train``: batch sizes, length, evaluation, checkpoints, seed, the loop.

    ``loop``: "auto" keeps the data on the device and runs up to ``steps_per_call`` steps per
    dispatch on an accelerator when the splits fit in device memory (:mod:`snnjax.tool.device_loop`),
    else (and on CPU) loads batches on the host; "device" or "host" force either. Both give the
    same parameters within float32 rounding.
    """
    return ml_collections.ConfigDict(
        dict(
            seed=0,
            batch_size=16,
            eval_batch_size=256,
            num_epochs=1.0,  # may be fractional; generated tasks use num_steps instead when > 0
            num_steps=0,
            eval_every_epochs=1,
            checkpoint_every_steps=500,
            max_checkpoints=3,
            log_every_steps=50,
            loop="auto",
            steps_per_call=16,  # device loop: optimiser steps per dispatch (cut at log/checkpoint steps)
            # sequence nets: > 0 backpropagates through chunks of this many steps only (truncated BPTT, a
            # different gradient; snnjax.tool.train_steps.tbptt_value_and_grad); 0 = through all steps
            tbptt_steps=0,
        )
    )


def default_loss_config() -> ml_collections.ConfigDict:
    """``config.loss``: see :mod:`snnjax.losses`."""
    from snnjax.core.losses import LOSS_CONFIG_DEFAULTS  # the peers' losses' options and the regularisers

    return ml_collections.ConfigDict(dict(name="mse_rate", local_weight=1.0, reduction="mean", **LOSS_CONFIG_DEFAULTS))


def base_config() -> ml_collections.ConfigDict:
    """A complete config with every key at its default; experiment configs override from here."""
    config = ml_collections.ConfigDict()
    config.data = default_data_config()
    config.model = default_model_config()
    config.optim = default_optim_config()
    config.train = default_train_config()
    config.loss = default_loss_config()
    return config
