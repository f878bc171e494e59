"""Feedforward and recurrent spiking networks for sequences (the CE-LIF paper's nets).

``[64, 152, 152]`` is three hidden spiking layers and a linear (non-spiking) readout applied at every
step; the loss reads the readout out (``mean`` over time for Seq-MNIST / PS-MNIST, ``last`` for the
adding problem, ``per_step`` for copy memory). With CE-LIF neurons all layers share one learnable
temporal encoding TE ``[T, max(hidden)]``, each layer using its first N columns (ce-lif supplement;
the parameter counts of its Table 1 confirm it: 153,962 for [64,152,152] at T = 784).

State in and out (streaming, chunked inference, truncated BPTT): with ``return_state=True`` the model
returns ``(ModelOutput, SequenceState)``, and ``state=`` continues from it. ``encoded=True`` takes the
encoder's time-major output (a chunk of it) instead of the batch-major data::

    h = encoders.encode("pixel", x, 1)                               # [784, B, 1]
    out1, st = model.apply(variables, h[:392], train=False, encoded=True, return_state=True)
    out2, st = model.apply(variables, h[392:], train=False, encoded=True, state=st, return_state=True)
    # concatenate([out1.out, out2.out]) == model.apply(variables, x, train=False).out

Two schedules compute the same function: ``scan="layer"`` runs each layer over all T steps (one
``T·B`` matmul per layer, then the layer's scan), ``scan="step"`` runs one scan over time whose body
is the whole net for one step (the shape a streaming model needs; fewer, smaller matmuls). Both have
the same parameters and sow the same firing rates, spike counts and ``synops``. ``scan="auto"`` (the
default) is ``step`` for an eval-mode call on the CPU backend, where it halves the Seq-MNIST eval
forward (docs/performance.md), and ``layer`` otherwise: in training (the per-layer backward is one
``T·B`` matmul per layer, faster on a CPU), on accelerators (not yet measured there), with the fused
``impl="pallas"`` neurons (which run whole sequences), and under :mod:`snnjax.monitor` (which records
the per-layer ``SpikingNeuron`` calls).

Memory that does not grow with T (issue 33): ``remat=k`` runs the per-step scan through
:func:`snnjax.core.scan.time_scan`, so the backward pass stores the net's state every k steps (1:
every step) and recomputes the steps between, for the same values and gradients; with ``scan="auto"``
it picks the ``step`` schedule, in training too. ``neuron.remat`` is the per-layer schedule's
counterpart (each layer's loop under ``jax.checkpoint``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.core import flat_random
from snnjax.core import neurons
from snnjax.core import encoders
from snnjax.core.scan import time_scan
from snnjax.nn.layers.recurrent import RecurrentSpikingLayer, RecurrentState, recurrent_current
from snnjax.nn.layers.spiking import NEURON_KINDS, NeuronConfig, SpikingNeuron, records, step_function
from snnjax.nn.layers.synapse import SeqDense, sow_synops
from snnjax.core.time import channels_last
from snnjax.core.output import ModelOutput
from snnjax.core.precision import at_least_float32

Array = jax.Array

SCANS = ("auto", "layer", "step")


class SequenceState(NamedTuple):
    """State of a :class:`SequenceSNN` between calls.

    Attributes:
        t: int32 scalar, the number of steps already run (where the next call starts in TE).
        layers: one state per hidden layer (the neuron's state, or a ``RecurrentState``).
        readout: the leaky-integrator readout's ``LIState`` (None for a linear readout).
    """

    t: Array
    layers: tuple[Any, ...]
    readout: Any = None


def normal_init(mean: float, std: float):
    def init(key, shape, dtype=jnp.float32):
        return mean + std * flat_random.normal(key, shape, dtype)

    return init


def _dense(x: Array, p: dict) -> Array:
    # SeqDense's product for one step: [B, N_in] -> [B, N_out].
    y = x @ p["kernel"].astype(x.dtype)
    return y + channels_last(p["bias"].astype(x.dtype), y.ndim) if "bias" in p else y


class _SowRate(nn.Module):
    """Sows what the layer path's ``SpikingNeuron`` would, where it would (``<name>/rate``, ``<name>/count``);
    with ``input_cost``, also what a recurrent layer's ``input`` ``SeqDense`` sows (``<name>/input``)."""

    @nn.compact
    def __call__(self, rate: Array, count: Array, input_cost: tuple | None = None) -> None:
        if records(self, "spikes"):
            self.sow("spikes", "rate", rate)
        if records(self, "spike_counts"):
            self.sow("spike_counts", "count", count)
        if input_cost is not None:
            _SowSynops(name="input")(*input_cost)


class _SowSynops(nn.Module):
    """Sows what the layer path's ``SeqDense`` of this name would into ``synops`` (the energy estimate)."""

    @nn.compact
    def __call__(self, macs: int, input_rate: Array, analog_input: bool, steps: int) -> None:
        sow_synops(self, macs, input_rate, analog_input, steps)


class SequenceSNN(nn.Module):
    """Spiking MLP over time with optional recurrent layers and a linear readout.

    Attributes:
        hidden: hidden layer widths, e.g. ``(64, 152, 152)``.
        num_outputs: readout width (classes; 1 for regression).
        neuron: the hidden layers' neurons.
        encoder: ``pixel``, ``permuted_pixel``, ``sequence``, ``direct``, ``rate`` (``encoders.ENCODERS``).
        time_steps: T for ``direct``/``rate`` (sequence encoders take T from the data).
        recurrent_layers: indices of hidden layers with recurrent weights.
        recurrent_init_scale: scale of the recurrent weights' PyTorch-style init.
        te_init_mean, te_init_std: CE-LIF temporal-encoding init, Normal(mean, std).
        readout: how the loss reads the output (``mean``, ``last``, ``per_step``).
        permutation_seed: PS-MNIST's fixed permutation.
        scan: ``layer`` (per-layer scans), ``step`` (one scan of the whole net per step) or ``auto``
            (the default: ``step`` for eval-mode calls on a CPU, else ``layer``; module docstring).
        readout_decay: 0 (default) for a linear readout; k > 0 passes it through a non-spiking leaky
            integrator, ``out_t = k·out_{t-1} + W h_t + b`` (Spyx ``LI``), whose state is carried too.
        remat: rematerialise the per-step scan: 0 off, 1 every step, k > 1 every k steps
            (:func:`snnjax.core.scan.time_scan`); needs ``scan="step"`` or ``"auto"`` (which it makes ``step``).
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
    scan: str = "auto"
    readout_decay: float = 0.0
    remat: int = 0

    @nn.compact
    def __call__(self, x: Array, *, train: bool, state: SequenceState | None = None,
                 return_state: bool = False, encoded: bool = False) -> ModelOutput | tuple[ModelOutput, SequenceState]:
        """``x`` batch-major data (``encoded``: the time-major encoder output ``[T, B, N]``).

        With CE-LIF, TE spans the sequence the model was initialised on; a call with ``state``
        uses rows ``state.t .. state.t + T`` of it.
        """
        if self.scan not in SCANS:
            raise ValueError(f"SequenceSNN.scan must be one of {SCANS}, got {self.scan!r}")
        if self.remat < 0 or self.remat and self.scan == "layer":
            raise ValueError(f"model.remat={self.remat} rematerialises the per-step scan: use 0 (off), 1 (every step) "
                             "or k > 1 (every k steps) with model.scan='step' or 'auto' (neuron.remat for 'layer')")
        h = x if encoded else self.encode(x)
        steps = h.shape[0]
        t0 = jnp.zeros((), jnp.int32) if state is None else jnp.asarray(state.t, jnp.int32)
        te = None
        if NEURON_KINDS.lookup(self.neuron.kind).needs_te:
            if self.has_variable("params", "te"):
                te_all = self.get_variable("params", "te")
            else:
                te_all = self.param("te", normal_init(self.te_init_mean, self.te_init_std), (steps, max(self.hidden)))
            te = jax.lax.dynamic_slice_in_dim(te_all, t0, steps).astype(h.dtype)
        layer_states = (None,) * len(self.hidden) if state is None else tuple(state.layers)
        readout_state = None if state is None else state.readout
        if self._schedule(train) == "step" and not self.is_initializing():
            out, new_states, readout_state = self._per_step(h, layer_states, te, readout_state)
        else:
            out, new_states = self._per_layer(h, layer_states, te)
            if self.readout_decay:
                out, readout_state = neurons.li(out, decay=self.readout_decay, state=readout_state,
                                                unroll=self.neuron.scan_unroll(out.shape[0]))
        output = ModelOutput(out=out, local_outs=(), readout=self.readout)
        if return_state:
            return output, SequenceState(t0 + steps, tuple(new_states), readout_state)
        return output

    def encode(self, x: Array) -> Array:
        """The encoder's time-major ``[T, B, N]`` sequence of batch-major data ``x`` (what ``encoded=True``
        takes); call it with ``model.apply(variables, x, method="encode", rngs=...)``."""
        key = self.make_rng("encoder") if encoders.needs_key(self.encoder) else None
        return encoders.encode(self.encoder, x, self.time_steps, key, self.permutation_seed)

    def initial_state(self, batch: int, dtype: Any = jnp.float32) -> SequenceState:
        """The state at rest (what a call without ``state`` starts from), for ``batch`` examples:
        ``model.apply(variables, batch, method="initial_state")``. A call from it equals a call
        without a state; a loop over chunks can carry it from the first chunk on."""
        layers = self._step_layers()
        readout = neurons.li_init_state((batch, self.num_outputs), dtype) if self.readout_decay else None
        return SequenceState(jnp.zeros((), jnp.int32), tuple(_rest_state(layer, width, batch, dtype)
                                                             for layer, width in zip(layers, self.hidden)), readout)

    def _step_layers(self) -> list[tuple]:
        """Per hidden layer: (synapse params, recurrent ``(w, b)`` or None, init_state, step)."""
        params = self.variables["params"]
        layers = []
        for i in range(len(self.hidden)):
            if i in self.recurrent_layers:
                p = params[f"layer{i}"]
                neuron_p = {k: v for k, v in p.items() if k not in ("input", "w_rec", "b_rec")}
                layers.append((p["input"], (p["w_rec"], p["b_rec"])) + step_function(self.neuron, params=neuron_p))
            else:
                neuron_p = dict(params.get(f"neuron{i}", {}))
                layers.append((params[f"fc{i}"], None) + step_function(self.neuron, params=neuron_p))
        return layers

    def _schedule(self, train: bool) -> str:
        """``self.scan``, with ``"auto"`` resolved (module docstring)."""
        if self.scan != "auto":
            return self.scan
        if self.is_mutable_collection("intermediates") or self.is_mutable_collection("membranes"):
            return "layer"  # snnjax.monitor records the per-layer SpikingNeuron calls
        if self.remat:
            return "step"  # the schedule model.remat applies to
        if train or self.neuron.impl != "scan" or jax.default_backend() != "cpu":
            return "layer"
        return "step"

    def _per_layer(self, h: Array, layer_states: tuple, te: Array | None) -> tuple[Array, list]:
        new_states = []
        for i, width in enumerate(self.hidden):
            te_i = None if te is None else te[:, :width]
            if i in self.recurrent_layers:
                layer = RecurrentSpikingLayer(width, self.neuron, analog_input=i == 0,
                                              init_scale=self.recurrent_init_scale, name=f"layer{i}")
                h, st = layer(h, layer_states[i], te=te_i, return_state=True)
            else:
                current = SeqDense(width, analog_input=i == 0, name=f"fc{i}")(h)
                h, st = SpikingNeuron(self.neuron, name=f"neuron{i}")(current, layer_states[i], te=te_i,
                                                                      return_state=True)
            new_states.append(st)
        return SeqDense(self.num_outputs, name="readout")(h), new_states

    def _per_step(self, h: Array, layer_states: tuple, te: Array | None, readout_state) -> tuple[Array, list, Any]:
        params = self.variables["params"]
        batch = h.shape[1]
        layers = self._step_layers()
        states = [_rest_state(layer, width, batch, h.dtype) if st is None else st
                  for layer, width, st in zip(layers, self.hidden, layer_states)]
        te_seq = te if te is not None else jnp.zeros((h.shape[0], 0), h.dtype)

        if self.readout_decay and readout_state is None:
            readout_state = neurons.li_init_state((batch, self.num_outputs), h.dtype)

        def body(carry, inputs):
            states, totals, ro = carry
            x_t, te_t = inputs
            new, counts = [], []
            for (syn, rec, _, step), width, st, total in zip(layers, self.hidden, states, totals):
                current = _dense(x_t, syn)
                te_w = te_t[:width] if te is not None else None
                if rec is None:
                    st, x_t = step(st, current, te_w)
                else:
                    neuron_st, x_t = step(st.neuron, current + recurrent_current(st.spikes, *rec), te_w)
                    st = RecurrentState(neuron_st, x_t)
                new.append(st)
                counts.append(total + x_t.astype(total.dtype))
            out_t = _dense(x_t, params["readout"])
            if self.readout_decay:
                ro, out_t = neurons.li_step(ro, out_t, decay=self.readout_decay)
            return (tuple(new), tuple(counts), ro), out_t

        zero_counts = tuple(jnp.zeros((batch, w), at_least_float32(h)) for w in self.hidden)  # as sow_spikes
        (states, totals, readout_state), out = time_scan(
            body, (tuple(states), zero_counts, readout_state), (h, te_seq),
            unroll=self.neuron.scan_unroll(h.shape[0]), remat=self.remat)
        steps = h.shape[0]
        rates = [jnp.mean(total) / steps for total in totals]
        input_rates = [jnp.mean(h.astype(jnp.float32))] + rates  # what each synapse reads: h, then spikes
        widths = (h.shape[-1],) + tuple(self.hidden)
        for i, total in enumerate(totals):
            cost = (widths[i] * widths[i + 1], input_rates[i], i == 0, steps)
            if i in self.recurrent_layers:
                _SowRate(name=f"layer{i}")(rates[i], total, input_cost=cost)
            else:
                _SowRate(name=f"neuron{i}")(rates[i], total)
                _SowSynops(name=f"fc{i}")(*cost)
        _SowSynops(name="readout")(widths[-1] * self.num_outputs, input_rates[-1], False, steps)
        return out, list(states), readout_state


def _rest_state(layer: tuple, width: int, batch: int, dtype: Any) -> Any:
    """A hidden layer's state at rest (``layer`` as :meth:`SequenceSNN._step_layers` gives it)."""
    _, rec, init_state, _ = layer
    st = init_state((batch, width), dtype)
    return RecurrentState(st, jnp.zeros((batch, width), dtype)) if rec is not None else st
