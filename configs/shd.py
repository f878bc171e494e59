"""Spiking Heidelberg Digits (SHD) with a recurrent LIF net and a leaky-integrator readout.

    python train.py --config configs/shd.py --workdir runs/shd --config.data.data_dir=/path/to/data

``arg``: ``recurrent`` (default, one recurrent hidden layer of 256) or ``feedforward`` (two
feedforward hidden layers of 256).

Data: ``DATA_DIR/SHD/shd_train.h5`` and ``shd_test.h5`` (Cramer et al. 2020, read through tonic;
``pip install tonic h5py``), recordings of 20 spoken digits (English and German) over 700 channels, binned
into 100 steps of 10 ms over the first second (``snnjax.data.neuromorphic.load_shd``). No paper
target: this is the audio benchmark the peers ship (snnTorch, SpikingJelly and Spyx tutorials), with
our choices throughout: LIF with leak 0.9, threshold 1, hard detached reset, arctangent surrogate;
a non-spiking leaky-integrator readout (Spyx ``LI``, decay 0.9) averaged over time; cross-entropy;
Adam 1e-3, batch 128, 30 epochs. Nothing here has been run to convergence yet.
"""

from __future__ import annotations

import ml_collections

from snnjax.tool.config import base_config
from snnjax.configs import common

ARGS = ("recurrent", "feedforward")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = common.choose(arg, ARGS, "shd")
    config = base_config()
    config.data.name = "shd"
    config.data.time_bins = 100

    m = config.model
    m.arch = "sequence"
    m.encoder = "sequence"  # [B, 100, 700] -> [100, B, 700]
    m.hidden = (256,) if variant == "recurrent" else (256, 256)
    m.recurrent_layers = (0,) if variant == "recurrent" else ()
    m.recurrent_init_scale = 0.5
    m.readout = "mean"
    m.readout_decay = 0.9

    n = m.neuron
    n.kind = "lif"
    n.decay = 0.9
    n.v_th = 1.0
    n.reset = "hard"
    n.detach_reset = True
    n.surrogate = "atan"
    n.surrogate_param = 2.0

    config.loss.name = "cross_entropy"
    config.loss.local_weight = 0.0

    o = config.optim
    o.name = "adam"
    o.learning_rate = 1e-3
    o.weight_decay = 0.0
    o.schedule = "constant"
    o.grad_clip_norm = 0.0

    t = config.train
    t.batch_size = 128
    t.eval_batch_size = 512
    t.num_epochs = 30.0
    t.seed = 0
    return common.finish(config)
