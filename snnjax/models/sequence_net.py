"""Feedforward and recurrent spiking networks for sequences (the CE-LIF paper's nets).

``[64, 152, 152]`` is three hidden spiking layers and a linear (non-spiking) readout applied at every
step; the loss reads the readout out (``mean`` over time for Seq-MNIST / PS-MNIST, ``last`` for the
adding problem, ``per_step`` for copy memory). With CE-LIF neurons all layers share one learnable
temporal encoding TE ``[T, max(hidden)]``, each layer using its first N columns (ce-lif supplement;
the parameter counts of its Table 1 confirm it: 153,962 for [64,152,152] at T = 784).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.layers import encoders
from snnjax.layers.recurrent import RecurrentSpikingLayer
from snnjax.layers.spiking import NeuronConfig, SpikingNeuron
from snnjax.layers.synapse import SeqDense
from snnjax.models.output import ModelOutput

Array = jax.Array


def normal_init(mean: float, std: float):
    def init(key, shape, dtype=jnp.float32):
        return mean + std * jax.random.normal(key, shape, dtype)

    return init


class SequenceSNN(nn.Module):
    """Spiking MLP over time with optional recurrent layers and a linear readout.

    Attributes:
        hidden: hidden layer widths, e.g. ``(64, 152, 152)``.
        num_outputs: readout width (classes; 1 for regression).
        neuron: the hidden layers' neurons.
        encoder: ``pixel``, ``permuted_pixel``, ``sequence``, ``direct`` or ``rate``.
        time_steps: T for ``direct``/``rate`` (sequence encoders take T from the data).
        recurrent_layers: indices of hidden layers with recurrent weights.
        recurrent_init_scale: scale of the recurrent weights' PyTorch-style init.
        te_init_mean, te_init_std: CE-LIF temporal-encoding init, Normal(mean, std).
        readout: how the loss reads the output (``mean``, ``last``, ``per_step``).
        permutation_seed: PS-MNIST's fixed permutation.
    """

    hidden: tuple[int, ...]
    num_outputs: int
    neuron: NeuronConfig = NeuronConfig(kind="ce_lif", decay=0.5, v_th=0.3, surrogate="boxcar", surrogate_param=0.2)
    encoder: str = "pixel"
    time_steps: int = 1
    recurrent_layers: tuple[int, ...] = ()
    recurrent_init_scale: float = 1.0
    te_init_mean: float = 0.01
    te_init_std: float = 0.01
    readout: str = "mean"
    permutation_seed: int = 0

    @nn.compact
    def __call__(self, x: Array, *, train: bool) -> ModelOutput:
        key = self.make_rng("encoder") if self.encoder == "rate" else None
        h = encoders.encode(self.encoder, x, self.time_steps, key, self.permutation_seed)
        te_all = None
        if self.neuron.kind == "ce_lif":
            te_shape = (h.shape[0], max(self.hidden))
            te_all = self.param("te", normal_init(self.te_init_mean, self.te_init_std), te_shape)
        for i, width in enumerate(self.hidden):
            te = None if te_all is None else te_all[:, :width].astype(h.dtype)
            if i in self.recurrent_layers:
                layer = RecurrentSpikingLayer(width, self.neuron, analog_input=i == 0,
                                              init_scale=self.recurrent_init_scale, name=f"layer{i}")
                h = layer(h, te=te)
            else:
                current = SeqDense(width, analog_input=i == 0, name=f"fc{i}")(h)
                h = SpikingNeuron(self.neuron, name=f"neuron{i}")(current, te=te)
        out = SeqDense(self.num_outputs, name="readout")(h)
        return ModelOutput(out=out, local_outs=(), readout=self.readout)
