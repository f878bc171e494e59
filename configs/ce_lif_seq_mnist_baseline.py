"""CE-LIF paper, the LIF / PLIF / ALIF baselines of Table 1 on Sequential MNIST.

    python train.py --config configs/ce_lif_seq_mnist_baseline.py:lif --workdir runs/seq_mnist_lif
    python train.py --config configs/ce_lif_seq_mnist_baseline.py:alif_rec --workdir runs/seq_mnist_alif_rec

``arg``: ``lif`` (default), ``lif_rec``, ``plif``, ``plif_rec``, ``alif``, ``alif_rec`` — the
neuron, and ``_rec`` for the recurrent net (``recurrent_layers=(0, 1)``, see
``configs/ce_lif_seq_mnist_recurrent.py``). PS-MNIST: add ``--config.model.encoder=permuted_pixel``.

Targets, Table 1 (Seq-MNIST / PS-MNIST; * = re-run by the authors):

==============  ============================  ================  ==================
arg             row                           params            accuracy (%)
==============  ============================  ================  ==================
``lif``         LIF*, feedforward             85.1k             63.45 / did not converge
``lif_rec``     LIF*, recurrent               155.1k            84.14 / 55.13
``plif``        PLIF*, feedforward            —                 87.92 / –
``plif_rec``    PLIF*, recurrent              —                 91.79 / –
``alif``        (no row: our feedforward ALIF, for comparison)
``alif_rec``    ALIF (Yin et al., cited)      156.3k            98.70 / 94.30
==============  ============================  ================  ==================

Hidden sizes are not given for the baselines. [64,256,256] without TE has exactly 85,130 parameters
(LIF* "85.1k") and, with recurrence on layers 0 and 1, 155,082 ("155.1k"), so all baselines use it
(our reading; PLIF adds one leak per layer). The ALIF row is copied from Yin et al. (their own net,
156.3k): our ALIF run is a like-for-like comparison, not a reproduction of that number.

Neurons: LIF = CE-LIF's membrane (α = 0.5) with the fixed threshold θ₀ = 0.3; PLIF (Fang et al.) =
learnable leak sigmoid(a), a₀ = 0, the input scaled by the leak; ALIF (Bellec et al.) = θ₀ + β·η
with η decaying at ρ = 0.99 (the text's example value for ALIF, Eq. 3) and β = 1.8 (Bellec et al.'s
value, our choice). All keep CE-LIF's boxcar width 0.2, so that only the neuron model changes.

Everything else is ``configs/ce_lif_seq_mnist.py``: MNIST IDX files via ``--config.data.data_dir=...``
or ``SNNJAX_DATA_DIR`` (data_dir stays None), pixel encoder, time-averaged readout, cross-entropy,
lr 5e-4, batch 256, our 150 epochs.
"""

from __future__ import annotations

import ml_collections

from snnjax.configs import ce_lif_common, common

ARGS = ("lif", "lif_rec", "plif", "plif_rec", "alif", "alif_rec")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    choice = common.choose(arg, ARGS, "ce_lif_seq_mnist_baseline")
    neuron, _, rec = choice.partition("_")
    config = ce_lif_common.sequence_config(
        dataset="mnist",
        encoder="pixel",
        hidden=(64, 256, 256),
        readout="mean",
        loss="cross_entropy",
        learning_rate=5e-4,
        neuron=neuron,
        recurrent_layers=(0, 1) if rec else (),
    )
    config.train.num_epochs = 150.0
    return common.finish(config)
