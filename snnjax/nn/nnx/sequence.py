"""The CE-LIF paper's sequence nets as an NNX model: :class:`snnjax.models.SequenceSNN`, natively.

Hidden spiking layers (dense synapses, or recurrent layers), a linear readout at every step and an
optional leaky-integrator readout :math:`o_t = k\\,o_{t-1} + W h_t + b`. With CE-LIF neurons all
layers share one learnable temporal encoding TE ``[te_steps, max(hidden)]``, each layer using its
first N columns (ce-lif supplement). Parameters carry the Linen model's names (``fc0``,
``neuron0``, ``layer1``, ``readout``, ``te``), so :mod:`snnjax.nnx.convert` moves weights between the
two, and the two compute the same outputs and gradients for the same weights (tested in float64).

The state is the Linen model's :class:`snnjax.models.SequenceState` ``(t, layers, readout)``,
explicit in and out::

    model = SequenceSNN(1, (64, 152, 152), 10, te_steps=784, rngs=nnx.Rngs(0))
    h = model.encode(x)                                      # [B, 784] -> [784, B, 1] ("pixel")
    out, state = model(h)                                    # out.out [784, B, 10]; from rest
    out1, st = model(h[:392]); out2, st = model(h[392:], st) # chunks = one call

    # one step at a time (streaming), in a plain lax.scan or nnx.scan:
    state, outs = jax.lax.scan(lambda st, x_t: model.step(x_t, st)[::-1], model.initial_state(B), h)

``__call__`` runs layer by layer (one ``T·B`` matmul per synapse, then the layer's scan: the Linen
model's ``scan="layer"``); ``step`` runs the whole net for one step (its ``scan="step"``). Firing
rates and synaptic-operation counts are not sown (NNX would keep them as module state): compute
them from spikes you return, or use the Linen model for the energy estimate.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import DTypeLike

from snnjax.core import flat_random
from snnjax.core import neurons
from snnjax.core import encoders
from snnjax.nn.layers.spiking import NEURON_KINDS, NeuronConfig
from snnjax.core.output import READOUTS, ModelOutput
from snnjax.nn.models.sequence_net import SequenceSNN as LinenSequenceSNN
from snnjax.nn.models.sequence_net import SequenceState
from snnjax.nn.nnx.convert import load_linen_variables
from snnjax.nn.nnx.neuron import SpikingNeuron
from snnjax.nn.nnx.recurrent import RecurrentSpikingLayer
from snnjax.nn.nnx.synapse import SeqDense

Array = jax.Array

DEFAULT_NEURON = LinenSequenceSNN.neuron  # CE-LIF, k = 0.5, θ₀ = 0.3, boxcar(0.2): the paper's


class SequenceSNN(nnx.Module):
    """Spiking MLP over time with optional recurrent layers and a linear (or leaky) readout.

    Args:
        in_features: width of one encoded step (1 for ``pixel``).
        hidden: hidden layer widths, e.g. ``(64, 152, 152)``.
        num_outputs: readout width.
        neuron: the hidden layers' neurons.
        te_steps: the length of CE-LIF's TE (the sequence length T); needed by TE kinds only.
        recurrent_layers: indices of hidden layers with recurrent weights.
        recurrent_init_scale: scale of the recurrent weights' PyTorch-style init.
        te_init_mean, te_init_std: TE init, Normal(mean, std).
        readout: how a loss reads the output (``mean``, ``last``, ``per_step``), carried in ModelOutput.
        readout_decay: 0 for a linear readout; k > 0: a non-spiking leaky integrator after it.
        encoder, time_steps, permutation_seed: what :meth:`encode` does (``snnjax.core.encoders``).
        rngs: ``nnx.Rngs`` with a ``params`` stream.
    """

    def __init__(self, in_features: int, hidden: tuple[int, ...], num_outputs: int, *,
                 neuron: NeuronConfig = DEFAULT_NEURON, te_steps: int | None = None,
                 recurrent_layers: tuple[int, ...] = (), recurrent_init_scale: float = 1.0,
                 te_init_mean: float = 0.01, te_init_std: float = 0.01, readout: str = "mean",
                 readout_decay: float = 0.0, encoder: str = "pixel", time_steps: int = 1,
                 permutation_seed: int = 0, rngs: nnx.Rngs):
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        self.hidden = tuple(hidden)
        self.num_outputs = num_outputs
        self.neuron = neuron
        self.recurrent_layers = tuple(recurrent_layers)
        self.readout_mode = readout  # "readout" names the readout layer, as in the Linen model
        self.readout_decay = readout_decay
        self.recurrent_init_scale = recurrent_init_scale
        self.te_init = (te_init_mean, te_init_std)
        self.encoder = encoder
        self.time_steps = time_steps
        self.permutation_seed = permutation_seed
        widths = (in_features,) + self.hidden
        for i, width in enumerate(self.hidden):
            if i in self.recurrent_layers:
                setattr(self, f"layer{i}", RecurrentSpikingLayer(widths[i], width, neuron,
                                                                 init_scale=recurrent_init_scale, rngs=rngs))
            else:
                setattr(self, f"fc{i}", SeqDense(widths[i], width, rngs=rngs))
                setattr(self, f"neuron{i}", SpikingNeuron(width, neuron, rngs=rngs))
        self.readout = SeqDense(widths[-1], num_outputs, rngs=rngs)
        te = None
        if NEURON_KINDS.lookup(neuron.kind).needs_te:
            if te_steps is None:
                raise ValueError(f"a {neuron.kind} net needs te_steps, the length of its temporal encoding "
                                 "(the sequence length T)")
            noise = flat_random.normal(rngs.params(), (te_steps, max(self.hidden)), jnp.float32)
            te = nnx.Param(te_init_mean + te_init_std * noise)
        self.te = te

    @classmethod
    def from_linen(cls, linen_model: LinenSequenceSNN, variables: Any) -> "SequenceSNN":
        """The NNX twin of a Linen ``SequenceSNN`` with its ``variables`` (``linen_model.init``'s)."""
        params = variables["params"]
        first = params["layer0"]["input"] if 0 in linen_model.recurrent_layers else params["fc0"]
        te_steps = params["te"].shape[0] if "te" in params else None
        m = linen_model
        # built abstractly (shapes only, nothing drawn): every value comes from ``variables``
        model = nnx.eval_shape(lambda: cls(
            first["kernel"].shape[0], tuple(m.hidden), m.num_outputs, neuron=m.neuron, te_steps=te_steps,
            recurrent_layers=tuple(m.recurrent_layers), recurrent_init_scale=m.recurrent_init_scale,
            te_init_mean=m.te_init_mean, te_init_std=m.te_init_std, readout=m.readout,
            readout_decay=m.readout_decay, encoder=m.encoder, time_steps=m.time_steps,
            permutation_seed=m.permutation_seed, rngs=nnx.Rngs(0)))
        return load_linen_variables(model, variables)

    def to_linen(self) -> LinenSequenceSNN:
        """The Linen ``SequenceSNN`` with this model's hyperparameters (weights: ``convert.linen_variables``)."""
        return LinenSequenceSNN(hidden=self.hidden, num_outputs=self.num_outputs, neuron=self.neuron,
                                encoder=self.encoder, time_steps=self.time_steps,
                                recurrent_layers=self.recurrent_layers, recurrent_init_scale=self.recurrent_init_scale,
                                te_init_mean=self.te_init[0], te_init_std=self.te_init[1], readout=self.readout_mode,
                                permutation_seed=self.permutation_seed, readout_decay=self.readout_decay)

    def encode(self, x: Array, key: Array | None = None) -> Array:
        """Batch-major data ``[B, ...]`` -> the encoder's time-major ``[T, B, in_features]``."""
        return encoders.encode(self.encoder, x, self.time_steps, key, self.permutation_seed)

    def _hidden_layer(self, i: int) -> tuple[nnx.Module, nnx.Module | None]:
        if i in self.recurrent_layers:
            return getattr(self, f"layer{i}"), None
        return getattr(self, f"fc{i}"), getattr(self, f"neuron{i}")

    def initial_state(self, batch: int, dtype: DTypeLike = jnp.float32) -> SequenceState:
        """Rest for a batch of ``batch`` sequences, at ``t = 0``."""
        layers = []
        for i in range(len(self.hidden)):
            synapse, neuron = self._hidden_layer(i)
            layers.append(synapse.initial_state(batch, dtype) if neuron is None else neuron.initial_state(batch, dtype))
        readout = neurons.li_init_state((batch, self.num_outputs), dtype) if self.readout_decay else None
        return SequenceState(jnp.zeros((), jnp.int32), tuple(layers), readout)

    def _te_rows(self, t0: Array, steps: int, dtype: DTypeLike) -> Array | None:
        if self.te is None:
            return None
        return jax.lax.dynamic_slice_in_dim(self.te[...], t0, steps).astype(dtype)

    def __call__(self, x_seq: Array, state: SequenceState | None = None) -> tuple[ModelOutput, SequenceState]:
        """``x_seq [T, B, in_features]`` (encoded) from ``state`` (None: rest at t = 0).

        Returns:
            ``(ModelOutput(out=[T, B, num_outputs]), state)``; TE rows ``state.t .. state.t + T`` are used.
        """
        steps = x_seq.shape[0]
        if state is None:
            state = self.initial_state(x_seq.shape[1], x_seq.dtype)
        t0 = jnp.asarray(state.t, jnp.int32)
        te = self._te_rows(t0, steps, x_seq.dtype)
        h, new_states = x_seq, []
        for i, width in enumerate(self.hidden):
            te_i = None if te is None else te[:, :width]
            synapse, neuron = self._hidden_layer(i)
            if neuron is None:
                h, st = synapse(h, state.layers[i], te=te_i)
            else:
                h, st = neuron(synapse(h), state.layers[i], te=te_i)
            new_states.append(st)
        out, readout_state = self.readout(h), state.readout
        if self.readout_decay:
            out, readout_state = neurons.li(out, decay=self.readout_decay, state=readout_state,
                                            unroll=self.neuron.scan_unroll(steps))
        output = ModelOutput(out=out, local_outs=(), readout=self.readout_mode)
        return output, SequenceState(t0 + steps, tuple(new_states), readout_state)

    def step(self, x_t: Array, state: SequenceState) -> tuple[Array, SequenceState]:
        """The whole net for one step: ``x_t [B, in_features] -> (out_t [B, num_outputs], state)``.

        Scanned over ``x_seq`` from the same state it gives :meth:`__call__`'s ``out`` and state.
        """
        t = jnp.asarray(state.t, jnp.int32)
        te_t = None if self.te is None else jax.lax.dynamic_index_in_dim(self.te[...], t, keepdims=False).astype(x_t.dtype)
        h, new_states = x_t, []
        for i, width in enumerate(self.hidden):
            te_w = None if te_t is None else te_t[:width]
            synapse, neuron = self._hidden_layer(i)
            if neuron is None:
                h, st = synapse.step(h, state.layers[i], te_t=te_w)
            else:
                h, st = neuron.step(synapse.step(h), state.layers[i], te_t=te_w)
            new_states.append(st)
        out_t, readout_state = self.readout.step(h), state.readout
        if self.readout_decay:
            readout_state, out_t = neurons.li_step(readout_state, out_t, decay=self.readout_decay)
        return out_t, SequenceState(t + 1, tuple(new_states), readout_state)
