"""The CE-LIF paper's recipe (Chen, Wu, Tang, Ren, Tan), shared by the ``ce_lif_*`` configs.

The paper: "Unleashing the Potential of Spiking Neural Networks for Sequential Modeling with
Contextual Embedding"; "Supp." is its Supplementary Materials. Its equations did not survive in the
text copy we work from and no code was released: docs/papers.md §3.8 restores the neuron (membrane
Eq. 2, CE threshold Eq. 4, boxcar surrogate Eq. 7) from the prose and two public reimplementations.

From the text: three hidden spiking layers and a linear classifier (Supp., "Model Architecture and
Hyperparameters"), feedforward (Experiments, "Pixel-level Sequential Image Classification"); hidden
sizes [64,88,88] / [64,152,152] for Seq-/PS-MNIST and [64,256,256] for the adding and copy tasks;
learning rate 5e-4 (copy memory 1e-3) and batch 256 (Supp., hyper-parameter table); a boxcar
surrogate (Methods, "Impact of CE on Gradient Propagation", Eq. 7); one temporal encoding TE shared by
all layers (Supp., "Model Architecture and Hyperparameters"); readout "averaging the output of a linear
classifier across all time steps" (Supp., "Experiment Specific Configuration"); cross-entropy, MSE for
the adding problem (Experiments, "Memory Capacity Analysis"). Our reading of the table's four
unlabelled constants (docs/papers.md §3.2): membrane decay α = 0.5, threshold decay ρ = 0.99,
θ₀ = 0.3, boxcar width a = 0.2. TE ~ Normal(0.01, 0.01) comes from a public reimplementation, not the
paper.

Not stated anywhere, our choices: the Adam optimiser (the text names none), a constant learning
rate (no schedule is mentioned), no weight decay, no gradient clipping, seed 0, evaluation batch
1000, and the training length of each task (in its config). The reset is detached
(``detach_reset=True``, as SpikingJelly users commonly train): differentiating the hard reset
``u·(1 − s)`` through the spike adds ``−α·u·g'`` to every step's membrane Jacobian, and over 784 steps
that overflows — the gradient of TE is ``inf`` and of the first layer ``NaN`` at initialisation on real
MNIST (``tests/tool/test_configs.py::test_ce_lif_gradients_are_finite_over_784_steps``). For the same
reason the recurrent variants scale PyTorch's init of the recurrent weights by 0.5: at 1.0 the
gradients of [64,136,136] CE-LIF are ``inf`` and of recurrent ALIF ~1e21 at initialisation; at 0.5
their largest entry is 0.15.
"""

from __future__ import annotations

import ml_collections

from snnjax.tool.config import base_config

# Each neuron's constants; the baselines keep CE-LIF's where they have the same meaning, so that only
# the neuron model changes between runs.
NEURONS = {
    # CE-LIF: u[t] = α u[t−1](1 − s[t−1]) + x[t]; θ[t] = ρ θ[t−1] + (1 − ρ) θ₀ + u[t−1] ⊙ TE[t].
    "ce_lif": {"kind": "ce_lif", "decay": 0.5, "rho": 0.99, "v_th": 0.3},
    # LIF*: the same membrane with a fixed threshold θ₀.
    "lif": {"kind": "lif", "decay": 0.5, "v_th": 0.3},
    # PLIF (Fang et al. 2021): learnable leak sigmoid(a), input scaled by it; a₀ = 0 (k = 0.5 = α).
    "plif": {"kind": "llc_lif", "decay_input": True, "a_init": 0.0, "v_th": 0.3},
    # ALIF (Bellec et al. 2018; the paper's Eq. 3): θ = θ₀ + β η, η decays with ρ = 0.99 (text);
    # β = 1.8 (Bellec's).
    "alif": {"kind": "alif", "decay": 0.5, "rho": 0.99, "beta": 1.8, "v_th": 0.3},
}


def sequence_config(
    *,
    dataset: str,
    encoder: str,
    hidden: tuple[int, ...],
    readout: str,
    loss: str,
    learning_rate: float,
    neuron: str = "ce_lif",
    recurrent_layers: tuple[int, ...] = (),
) -> ml_collections.ConfigDict:
    """A CE-LIF-paper sequence model on ``dataset``; unlocked."""
    config = base_config()
    config.data.name = dataset  # data_dir stays None: --config.data.data_dir=... or $SNNJAX_DATA_DIR

    m = config.model
    m.arch = "sequence"
    m.encoder = encoder  # pixel / permuted_pixel / sequence: T comes from the data; time_steps unused
    m.hidden = tuple(hidden)
    m.recurrent_layers = tuple(recurrent_layers)
    # Half PyTorch's init for recurrent weights: at 1.0 the 784-step gradients overflow at init.
    m.recurrent_init_scale = 0.5
    m.readout = readout
    m.te_init_mean = 0.01
    m.te_init_std = 0.01
    m.permutation_seed = 0

    n = m.neuron
    n.reset = "hard"
    n.detach_reset = True  # see the module docstring: the undetached reset overflows over 784 steps
    n.surrogate = "boxcar"
    n.surrogate_param = 0.2
    n.bpta_alpha = 0.0
    for key, value in NEURONS[neuron].items():
        n[key] = value

    config.loss.name = loss
    config.loss.local_weight = 0.0  # no local classifiers in these nets

    o = config.optim
    o.name = "adam"
    o.learning_rate = learning_rate
    o.weight_decay = 0.0
    o.schedule = "constant"
    o.grad_clip_norm = 0.0

    t = config.train
    t.batch_size = 256
    t.eval_batch_size = 1000
    t.seed = 0
    t.log_every_steps = 50
    t.checkpoint_every_steps = 1000
    return config
