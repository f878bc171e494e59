"""The reference speed workloads (``../shared/bench``), built in snnjax one to one.

- ``seed_bn_lif``: 128c3-p2-128c3-p2-2048-100-10 with BatchNorm and SpikingJelly's ``LIFNode(tau=2,
  detach_reset=True, Sigmoid())`` (decay-input form, k = 0.5), dropout 0.5 before and after the
  2048 layer, T = 8, MSE on output rates, Adam 1e-3 (``anchor_spikingjelly.py``).
- ``seed_llc_lif``: the same net as the full llc-lif model: LLC-LIF neurons + LLC-BN.
- ``seq_plif``: feedforward 1-64-152-152-10 with SpikingJelly's ``ParametricLIFNode(init_tau=2,
  detach_reset=True, Sigmoid())``, T = 784 (one pixel per step), batch 256, cross-entropy on the
  time-averaged linear readout, Adam 5e-4 (``anchor_seq.py``).
- ``seq_ce_lif``: the same net with CE-LIF neurons (the ce-lif paper's Seq-MNIST model).
- ``dense_lif``: a small dense 784-100-10 LIF net, T = 8, batch 16, where per-step overhead (one
  dispatch and one batch copy per step) is a large part of a step: the host/device loop comparison.
"""

from __future__ import annotations

import dataclasses

import ml_collections
import numpy as np

from snnjax.config import base_config


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    config: ml_collections.ConfigDict
    batch_sizes: tuple[int, ...]
    input_shape: tuple[int, ...]  # per example, batch-major (what the data loader yields)
    num_classes: int = 10


def _seed(kind: str) -> ml_collections.ConfigDict:
    c = base_config()
    c.model.spec = "128c3-p2-128c3-p2-dp-2048-dp-100-10"
    c.model.time_steps = 8
    c.model.encoder = "direct"
    c.model.norm = "bn" if kind == "lif" else "llc_bn"
    c.model.neuron.kind = kind
    c.model.neuron.decay = 0.5  # tau = 2
    c.model.neuron.decay_input = True
    c.model.neuron.detach_reset = True
    c.model.neuron.surrogate = "sigmoid"
    c.model.neuron.surrogate_param = 4.0
    c.loss.name = "mse_rate"
    c.optim.name = "adam"
    c.optim.learning_rate = 1e-3
    return c


def _seq(kind: str) -> ml_collections.ConfigDict:
    c = base_config()
    c.model.arch = "sequence"
    c.model.hidden = (64, 152, 152)
    c.model.encoder = "pixel"
    c.model.readout = "mean"
    c.model.neuron.kind = kind
    if kind == "llc_lif":  # SpikingJelly PLIF, init_tau = 2
        c.model.neuron.decay_input = True
        c.model.neuron.detach_reset = True
        c.model.neuron.surrogate = "sigmoid"
        c.model.neuron.surrogate_param = 4.0
    else:  # CE-LIF constants of the ce-lif paper
        c.model.neuron.decay = 0.5
        c.model.neuron.rho = 0.99
        c.model.neuron.v_th = 0.3
        c.model.neuron.surrogate = "boxcar"
        c.model.neuron.surrogate_param = 0.2
    c.loss.name = "cross_entropy"
    c.optim.name = "adam"
    c.optim.learning_rate = 5e-4
    return c


def _dense() -> ml_collections.ConfigDict:
    c = base_config()
    c.model.spec = "100-10"  # the 28x28 image flattened: 784-100-10
    c.model.time_steps = 8
    c.model.encoder = "direct"
    c.model.norm = "none"
    c.model.neuron.kind = "lif"
    c.model.neuron.decay = 0.5
    c.model.neuron.decay_input = True
    c.model.neuron.surrogate = "sigmoid"
    c.loss.name = "mse_rate"
    c.optim.name = "adam"
    c.optim.learning_rate = 1e-3
    return c


def workloads(quick: bool = False) -> list[Workload]:
    """All workloads; ``quick`` shrinks batches (and the sequence length) for a CPU smoke run."""
    seed_batches = (4,) if quick else (16, 128, 512)
    seq_batches = (4,) if quick else (256,)
    seq_shape = (7, 7, 1) if quick else (28, 28, 1)  # 49 or 784 steps
    return [
        Workload("dense_lif", _dense(), (16,), (28, 28, 1)),
        Workload("seed_bn_lif", _seed("lif"), seed_batches, (28, 28, 1)),
        Workload("seed_llc_lif", _seed("llc_lif"), seed_batches, (28, 28, 1)),
        Workload("seq_plif", _seq("llc_lif"), seq_batches, seq_shape),
        Workload("seq_ce_lif", _seq("ce_lif"), seq_batches, seq_shape),
    ]


def random_batch(workload: Workload, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One batch of uniform ``[0, 1)`` inputs in the loader's layout and random labels, the same for
    snnjax and the JAX peers."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (batch, *workload.input_shape)).astype(np.float32)
    y = rng.integers(0, workload.num_classes, batch).astype(np.int32)
    return x, y


def sequence_layout(config: ml_collections.ConfigDict, input_shape: tuple[int, ...],
                    peer: str) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    """``(T, hidden, widths)`` of a feedforward pixel-encoded sequence net, for a peer's copy of it:
    T = one step per pixel, ``widths`` = input channels then the hidden widths.

    Raises:
        ValueError: the net is not one the peers cover (``peer`` names the peer in the message).
    """
    model = config.model
    if model.encoder != "pixel" or tuple(model.get("recurrent_layers", ())):
        raise ValueError(f"the {peer} peer covers feedforward pixel-encoded sequence nets only")
    hidden = tuple(model.hidden)
    return input_shape[0] * input_shape[1], hidden, (input_shape[2],) + hidden
