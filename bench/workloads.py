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

from snnjax.tool.config import base_config


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


# --- jaxpike's SHD benchmark net (issue 37): bench/peer_jaxpike.py times it against jaxpike -------
#
# jaxpike 0.1.4's own SHD benchmark (``benchmarks/spyx_shd.py`` of its repository, which copies the
# Spyx paper's SHD protocol): 128 inputs, Dense(128) -> LIF -> Dense(128) -> LIF -> Dense(20) -> LI,
# no biases, a learnable β per neuron (truncated-normal(±2σ)·0.25 + 0.5, clipped to [0, 1] on use),
# Spyx's arctan surrogate (k = 2), reset by subtracting the threshold (1) times the previous spike,
# cross-entropy with label smoothing 0.3 on the readout summed over time, Adam 5e-4. Its data is
# SHD; the benchmark here feeds random spikes (5 % density, jaxpike's own ``--smoke`` data).
#
# The snnjax side, two ways:
# - :func:`shd_hand_apply` (:class:`ShdHandNet` declares its parameters): the net composed by hand
#   from ``snnjax.neurons.leaky`` (snnTorch / Spyx's reset by the previous spike), ``snnjax.neurons.li``
#   and matrix products, optionally chunked by ``snnjax.neurons.remat_chunks``, trained by a plain
#   ``jax.jit`` step of the user's own (bench/peer_jaxpike.py): how a user who jits our neurons in
#   their own JAX code meets snnjax. It is the same function as jaxpike's net except that jaxpike's
#   benchmark neuron emits the *previous* step's spike (``s[t] = H(v[t-1] - 1)``, read before the
#   step's input, as ``spyx.nn.LIF``), where ``neurons.leaky`` emits this step's (``s[t] = H(m[t] - 1)``):
#   each spiking layer of jaxpike's net is one step later. ``lag=True`` delays each spiking layer's
#   output by one step, which makes the two nets equal (tests/test_bench_peers.py checks it on the
#   same weights); the timed net is ``lag=False``, snnjax's own convention.
# - ``SequenceSNN`` as ``train.py`` builds it (:func:`shd_sequence_config`) cannot express this net:
#   its ``leaky`` neurons have one fixed β (not learnable, not per neuron), its dense layers and
#   readout carry biases, its leaky-integrator readout has a fixed β (``readout_decay``), and no loss
#   smooths labels (``ce_count``: CE on the readout summed over time). :func:`shd_sequence_config` is
#   the nearest config it can express (β = 0.5, the mean of jaxpike's init; Spyx's arctan is
#   ``atan`` with α = 2k = 4, the same shape 2π times higher), timed for what ``train.py`` would run;
#   its cost per step is the same net's, its numbers are not.

SHD_INPUTS = 128
SHD_HIDDEN = 128
SHD_CLASSES = 20
SHD_DENSITY = 0.05  # fraction of input slots that spike
SHD_LABEL_SMOOTHING = 0.3
SHD_LEARNING_RATE = 5e-4
SHD_ARCTAN_K = 2.0  # Spyx's axn.arctan(k)
JAXPIKE_SHD_CASES = ((256, 256), (1024, 32))  # (T, batch)
JAXPIKE_SHD_QUICK_CASES = ((32, 8),)


def spyx_arctan_primitive(x, k):
    """The smooth step whose derivative is Spyx's ``axn.arctan(k)`` surrogate, ``1 / (π (1 + (kπx)²))``:
    ``arctan(kπx) / (kπ²) + 1/2``."""
    import jax.numpy as jnp

    k = jnp.asarray(k, jnp.result_type(x))  # the surrogate's parameter in the membrane's dtype
    return jnp.arctan(k * np.pi * x) / (k * np.pi * np.pi) + 0.5


def shd_spike_fn():
    """Spyx's / jaxpike's spike: ``H(u - v_th)`` with a strict threshold (``u > v_th``), the arctan
    surrogate of :func:`spyx_arctan_primitive` with k = 2."""
    from snnjax import surrogate

    return surrogate.strict(surrogate.from_primitive(spyx_arctan_primitive, np.float32(SHD_ARCTAN_K)))


def shd_beta_init(key, shape, dtype=None):
    """Spyx's (and jaxpike's benchmark's) β init: truncated normal on [-2, 2] times 0.25, plus 0.5."""
    import jax
    import jax.numpy as jnp

    dtype = dtype or jnp.float32
    return (jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype) * 0.25 + 0.5).astype(dtype)


def shd_hand_net(lag: bool = False, unroll: int = 1, chunk: int = 0, scalar_beta: bool = False, matmul: str = "@"):
    """:class:`ShdHandNet` (built on use, so importing this module needs no flax)."""
    return _shd_hand_net_class()(lag=lag, unroll=unroll, chunk=chunk, scalar_beta=scalar_beta, matmul=matmul)


def shd_hand_apply(params: dict, x, *, lag: bool = False, unroll: int = 1, chunk: int = 0, matmul: str = "@"):
    """jaxpike's SHD net written by hand from snnjax's neurons, in plain JAX: ``x [T, B, 128]``
    spikes -> readout membrane ``[T, B, 20]``.

    Each dense layer is one matrix product on all ``t·B`` rows, each neuron layer one
    ``neurons.leaky`` / ``neurons.li`` call (one ``lax.scan``, ``unroll`` steps per iteration) with
    β per neuron, ``[N]``, broadcast by the neuron. ``chunk > 0``: the net runs ``chunk`` steps at a
    time under ``neurons.remat_chunks``, each chunk rematerialised in the backward pass, the neuron
    states carried from chunk to chunk (the same function, memory ``O(√T)`` for ``chunk ≈ √T``): a
    spiking layer's state as its membrane alone, rebuilt as ``LeakyState(mem, spike_fn(mem, v_th))``
    (the state ``neurons.leaky`` returns is exactly that), so the backward pass stores one array per
    layer and chunk, not two. ``matmul``: ``"@"`` (``h @ kernel`` on the ``[t, B, N]`` activations) or
    ``"merged"`` (one ``[t·B, N]`` product, ``snnjax.core.time.apply_merged``, as ``SeqDense`` does): the
    same values, but the kernel gradient of ``"@"`` contracts two axes (t and B), which XLA:CPU runs
    on its slow generic dot (``docs/performance.md``).
    ``lag``: each spiking layer emits the previous step's spike (jaxpike's convention; the module
    comment above), read from the carried state across chunks.

    Args:
        params: ``{"dense0": {"kernel": [128, 128]}, "dense1": ..., "dense2": {"kernel": [128, 20]},
            "beta0": [128], "beta1": [128], "beta_out": [20]}`` (:class:`ShdHandNet`'s; each β may be
            a scalar instead, one learnt leak per layer).
    """
    import jax.numpy as jnp

    from snnjax import neurons

    from snnjax.core.time import apply_merged

    if matmul not in ("@", "merged"):
        raise ValueError(f"matmul must be '@' or 'merged', got {matmul!r}")
    spike_fn, v_th = shd_spike_fn(), 1.0
    dtype = params["dense0"]["kernel"].dtype
    if matmul == "merged":
        product = lambda h, kernel: apply_merged(lambda flat: flat @ kernel, h)  # noqa: E731
    else:
        product = lambda h, kernel: h @ kernel  # noqa: E731

    def layers(states, xs):
        h, carried = xs, []
        for i in range(2):
            current = product(h, params[f"dense{i}"]["kernel"])
            h, state = neurons.leaky(current, decay=jnp.clip(params[f"beta{i}"], 0.0, 1.0), v_th=v_th,
                                     spike_fn=spike_fn, reset="soft", state=states[i], unroll=unroll)
            if lag:
                h = jnp.concatenate([states[i].spike[None].astype(h.dtype), h[:-1]])
            carried.append(state)
        current = product(h, params["dense2"]["kernel"])
        v, state = neurons.li(current, decay=jnp.clip(params["beta_out"], 0.0, 1.0), state=states[2],
                              unroll=unroll)
        return (*carried, state), v

    def chunk_layers(carry, xs):  # the spiking layers' states carried as their membranes
        states = tuple(neurons.LeakyState(mem, spike_fn(mem, v_th).astype(mem.dtype)) for mem in carry[:2]) + carry[2:]
        states, v = layers(states, xs)
        return (states[0].mem, states[1].mem, states[2]), v

    batch = x.shape[1]
    states = (neurons.leaky_init_state((batch, SHD_HIDDEN), dtype),
              neurons.leaky_init_state((batch, SHD_HIDDEN), dtype),
              neurons.li_init_state((batch, SHD_CLASSES), dtype))
    x = x.astype(dtype)
    if chunk:
        _, v = neurons.remat_chunks(chunk_layers, (states[0].mem, states[1].mem, states[2]), x, chunk=chunk)
    else:
        _, v = layers(states, x)
    return v


def shd_best_chunk(time_steps: int) -> int:
    """The divisor of T nearest √T (the smaller on a tie): jaxpike's ``unroll_checkpointed`` chunk,
    used for snnjax's chunked hand net too, so both recompute the same chunks."""
    target = max(1, round(time_steps ** 0.5))
    return min((d for d in range(1, time_steps + 1) if time_steps % d == 0), key=lambda d: (abs(d - target), d))


def _shd_hand_net_class():
    import flax.linen as nn

    class ShdHandNet(nn.Module):
        """:func:`shd_hand_apply` as a Flax module: it declares the parameters (LeCun-normal kernels
        without biases, as jaxpike's ``Dense``; β per neuron, :func:`shd_beta_init`), in the tree
        ``flax.linen.Dense`` layers named ``dense0..2`` would have, and runs the pure forward.
        ``scalar_beta``: one learnt β per layer instead of one per neuron (what the per-neuron
        parameter costs, measured by ``bench.peer_jaxpike --hand_scalar_beta``)."""

        lag: bool = False
        unroll: int = 1
        chunk: int = 0
        scalar_beta: bool = False
        matmul: str = "@"

        @nn.compact
        def __call__(self, x):
            kernel_init = nn.initializers.variance_scaling(1.0, "fan_in", "normal")  # jaxpike's LeCun normal
            widths = (x.shape[-1], SHD_HIDDEN, SHD_HIDDEN, SHD_CLASSES)
            params = {f"dense{i}": self.param(f"dense{i}", lambda key, shape: {"kernel": kernel_init(key, shape)},
                                              widths[i:i + 2])
                      for i in range(3)}
            params.update({name: self.param(name, shd_beta_init, () if self.scalar_beta else (width,))
                           for name, width in (("beta0", SHD_HIDDEN), ("beta1", SHD_HIDDEN), ("beta_out", SHD_CLASSES))})
            return shd_hand_apply(params, x, lag=self.lag, unroll=self.unroll, chunk=self.chunk, matmul=self.matmul)

    return ShdHandNet


def shd_loss(traces, labels):
    """Spyx's integral cross-entropy: CE of the readout summed over time (``traces [T, B, K]``)
    against one-hot labels smoothed by 0.3."""
    import jax
    import optax

    logits = traces.sum(0)
    targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype), SHD_LABEL_SMOOTHING)
    return optax.softmax_cross_entropy(logits, targets).mean()


def shd_random_batch(time_steps: int, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(x [T, B, 128] float32 0/1 spikes at 5 % density, y [B] int32 in [0, 20))``, time-major,
    the one batch every framework is fed."""
    rng = np.random.default_rng(seed)
    x = (rng.random((time_steps, batch, SHD_INPUTS)) < SHD_DENSITY).astype(np.float32)
    y = rng.integers(0, SHD_CLASSES, batch).astype(np.int32)
    return x, y


def shd_sequence_config() -> ml_collections.ConfigDict:
    """The nearest ``SequenceSNN`` config ``train.py`` can build (module comment above for what differs).
    Its data is batch-major ``[B, T, 128]`` (``encoder="sequence"``)."""
    c = base_config()
    c.model.arch = "sequence"
    c.model.hidden = (SHD_HIDDEN, SHD_HIDDEN)
    c.model.encoder = "sequence"
    c.model.readout = "mean"
    c.model.readout_decay = 0.5
    c.model.neuron.kind = "leaky"
    c.model.neuron.decay = 0.5
    c.model.neuron.v_th = 1.0
    c.model.neuron.reset = "soft"
    c.model.neuron.strict_threshold = True
    c.model.neuron.surrogate = "atan"
    c.model.neuron.surrogate_param = 2 * SHD_ARCTAN_K
    c.loss.name = "ce_count"
    c.optim.name = "adam"
    c.optim.learning_rate = SHD_LEARNING_RATE
    return c


def shd_sequence_workload(time_steps: int, batch: int) -> Workload:
    """:func:`shd_sequence_config` as a :class:`Workload` at one (T, batch)."""
    return Workload("shd_jaxpike", shd_sequence_config(), (batch,), (time_steps, SHD_INPUTS), SHD_CLASSES)
