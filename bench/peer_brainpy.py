"""BrainPy 2.9 on snnjax's Seq-MNIST PLIF net and seed conv net, against snnjax in one process (issue 37).

    ~/.cache/snnjax-bench/venv-brainpy/bin/python -m bench.peer_brainpy            # both nets, both neurons
    ~/.cache/snnjax-bench/venv-brainpy/bin/python -m bench.peer_brainpy --quick    # tiny sizes: a check
    ... -m bench.peer_brainpy --jsonl brainpy.jsonl; python -m bench.table --jax-peers brainpy.jsonl

(the venv: ``bash bench/peers/setup_venvs.sh brainpy``; BrainPy 2.9 needs Python >= 3.12; snnjax
and BrainPy under one JAX). The nets are ``bench/workloads.py``'s ``seq_plif`` (1-64-152-152-10,
PLIF, T = 784, batch 32) and ``seed_bn_lif`` (128c3-p2-128c3-p2-2048-100-10 with BatchNorm and LIF,
T = 8, batch 16), on ``bench.workloads.random_batch``. snnjax's records are ``bench.run``'s (the train
step ``train.py`` runs, and the eval forward); BrainPy's are written as BrainPy's own examples write a
net (``brainpy/examples``, ``brain_inspired_computing/``): ``bp.dnn`` layers and neuron
``DynamicalSystem``\\ s in ``training_mode``, time run by ``bm.for_loop``, a train step of
``bm.grad(..., grad_vars=net.train_vars().unique())`` and ``bp.optim.Adam``, under ``bm.jit``.

Two BrainPy neurons (``--neurons``):

- ``stock``: BrainPy's own ``bp.dyn.Lif`` with SpikingJelly's constants: ``V_rest = V_reset = 0``,
  ``V_th = 1``, ``R = 1``, ``tau = 1/ln 2`` (its exponential-Euler step is then
  ``V = 0.5 V + 0.5 x``, SpikingJelly's ``LIFNode(tau=2, decay_input=True)``), ``spk_reset="hard"``
  and SpikingJelly's ``Sigmoid(4)`` surrogate (BrainPy's, the same function). Its defaults keep
  the rest: ``detach_spk=False``, so the gradient flows through the reset, where SpikingJelly and
  snnjax's nets detach it (``detach_reset=True``): same spikes and loss, gradients that differ (the
  issue measured 20-40 %). BrainPy has no PLIF, so on ``seq_plif`` its leak is fixed at 0.5 (PLIF's
  initial value), not learnt.
- ``sj``: :class:`SJLIF`, SpikingJelly's ``LIFNode`` / ``ParametricLIFNode`` step written as a BrainPy
  ``DynamicalSystem``: ``h = v + (x - v) k`` (k = 1/τ, or sigmoid(w) learnt for PLIF),
  ``s = H(h - 1)`` with the ``Sigmoid(4)`` surrogate, ``v = h (1 - s)`` with the reset detached:
  the same function and gradients as snnjax's nets (``tests/test_bench_peers.py`` checks its steps
  against ``snnjax.neurons.lif``).

Schedules, as the Spyx peer's (bench/peer_spyx.py): the sequence net is one ``bm.for_loop`` over
time whose body is the whole net for one step (BrainPy's examples' schedule); the conv net runs
layer by layer, each conv / BatchNorm / pool / dense on all ``T·B`` rows at once and each neuron layer
its own ``bm.for_loop``, because its BatchNorm normalises over ``T·B`` (snnjax's and SpikingJelly's
convention; BrainPy's examples run BatchNorm inside the per-step loop, over B only). The first conv
and its BatchNorm run once on the static image and are repeated over T; dropout keeps one mask over T.
"""

from __future__ import annotations

import argparse
import math
import sys

import jax
import jax.numpy as jnp
import numpy as np

from bench import workloads as wl
from bench.timing import best_window, device_record, peak_memory_mib, print_records
from snnjax.models.spec import parse_spec

NEURONS = ("stock", "sj")
RUNS = (("seq_plif", 32, 784), ("seed_bn_lif", 16, 8))  # (workload, batch, T)
QUICK_RUNS = (("seq_plif", 4, 49), ("seed_bn_lif", 4, 4))
REPEATS = 3


def available() -> bool:
    """brainpy importable."""
    try:
        import brainpy  # noqa: F401
    except ImportError:
        return False
    return True


def _decay(neuron) -> float:
    """The initial leak k of a snnjax lif / llc_lif neuron config (``h = k v + (1 - k) x``)."""
    if neuron.kind == "lif":
        return float(neuron.decay)
    if neuron.kind == "llc_lif":
        return float(1.0 / (1.0 + np.exp(-neuron.a_init)))
    raise ValueError(f"no BrainPy peer for neuron kind {neuron.kind!r}")


def _sj_lif_class():
    import brainpy as bp
    import brainpy.math as bm

    class SJLIF(bp.DynamicalSystem):
        """SpikingJelly's multi-step ``LIFNode(decay_input=True, v_reset=0, detach_reset=True)`` step
        (``learn``: ``ParametricLIFNode``, k = sigmoid(w)) in BrainPy's ``DynamicalSystem`` contract:

        ``h = v + (x - v) k``, ``s = H(h - v_th)`` (surrogate ``spike_fn``), ``v = h (1 - sg(s))``.
        """

        def __init__(self, size: tuple[int, ...], decay: float, v_th: float, spike_fn, learn: bool = False):
            super().__init__()
            self.size, self.v_th, self.spike_fn, self.learn = tuple(size), v_th, spike_fn, learn
            if learn:  # PLIF: k = sigmoid(w), w = -log(1/k - 1)
                self.w = bm.TrainVar(jnp.asarray(-math.log(1.0 / decay - 1.0), jnp.float32))
            else:
                self.k = decay
            self.V = bm.Variable(jnp.zeros((1,) + self.size, jnp.float32), batch_axis=0)

        def reset_state(self, batch_size=None, **kwargs):
            self.V.value = jnp.zeros((batch_size,) + self.size, jnp.float32)

        def update(self, x):
            k = jax.nn.sigmoid(self.w.value) if self.learn else self.k
            h = self.V.value + (x - self.V.value) * k
            s = self.spike_fn(h - self.v_th)
            self.V.value = h * (1.0 - jax.lax.stop_gradient(s))
            return s

    return SJLIF


def make_neuron(kind: str, size: tuple[int, ...], neuron, batch: int):
    """A BrainPy neuron layer of ``size`` for a snnjax neuron config: ``stock`` or ``sj`` (module docstring)."""
    import brainpy as bp
    import brainpy.math as bm

    if neuron.surrogate != "sigmoid":
        raise ValueError(f"no BrainPy peer for surrogate {neuron.surrogate!r}")
    spike_fn = bm.surrogate.Sigmoid(alpha=float(neuron.surrogate_param or 4.0))
    k = _decay(neuron)
    if kind == "stock":
        return bp.dyn.Lif(size, V_rest=0.0, V_reset=0.0, V_th=float(neuron.v_th), R=1.0, tau=-1.0 / math.log(k), keep_size=True,
                          spk_fun=spike_fn, spk_reset="hard", mode=bm.TrainingMode(batch_size=batch))
    if kind == "sj":
        return _sj_lif_class()(size, k, float(neuron.v_th), spike_fn, learn=neuron.kind == "llc_lif")
    raise ValueError(f"neuron must be one of {NEURONS}, got {kind!r}")


def _run_over_time(neuron, x_seq):
    """One neuron layer over ``x_seq [T, B, ...]`` from rest: ``bm.for_loop`` of its step."""
    import brainpy.math as bm

    neuron.reset_state(x_seq.shape[1])
    return bm.for_loop(neuron, x_seq)


def _seq_net_class():
    import brainpy as bp
    import brainpy.math as bm

    class SeqNet(bp.DynamicalSystem):
        """Dense + neuron per hidden layer, a dense readout averaged over time; one ``bm.for_loop``
        over time whose body is the whole net for one step."""

        def __init__(self, workload, kind: str, batch: int):
            super().__init__()
            time_steps, hidden, widths = wl.sequence_layout(workload.config, workload.input_shape, "BrainPy")
            self.dense = [bp.dnn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])]
            self.neurons = [make_neuron(kind, (w,), workload.config.model.neuron, batch) for w in hidden]
            self.readout = bp.dnn.Linear(hidden[-1], workload.num_classes)
            for i, (dense, neuron) in enumerate(zip(self.dense, self.neurons)):  # children, so their variables are found
                setattr(self, f"fc{i}", dense)
                setattr(self, f"neuron{i}", neuron)

        def logits(self, image):
            seq = jnp.swapaxes(image.reshape(image.shape[0], -1, image.shape[-1]), 0, 1)  # [T, B, C], one pixel per step
            for n in self.neurons:
                n.reset_state(image.shape[0])

            def step(x_t):
                for dense, neuron in zip(self.dense, self.neurons):
                    x_t = neuron(dense(x_t))
                return self.readout(x_t)

            return bm.for_loop(step, seq).mean(0)

    return SeqNet


def _conv_net_class():
    import brainpy as bp
    import brainpy.math as bm

    class ConvNet(bp.DynamicalSystem):
        """The spec's layers in order, each on all T steps at once; each neuron layer one ``bm.for_loop``."""

        def __init__(self, workload, kind: str, batch: int):
            super().__init__()
            model = workload.config.model
            if model.encoder != "direct" or model.norm not in ("bn", "llc_bn"):
                raise ValueError("the BrainPy peer covers direct-encoded conv nets with BatchNorm only")
            self.time_steps, self.dropout = int(model.time_steps), float(model.dropout)
            h, w, channels = workload.input_shape
            specs = parse_spec(model.spec, workload.num_classes, model.get("pool", "max"))
            layers, kinds, features = [], [], None
            split = max(i for i, s in enumerate(specs) if s.kind in ("conv", "pool")) + 1
            for i, spec in enumerate(specs):
                if i == split:
                    kinds.append(("flatten", None))
                    features = channels * h * w
                if spec.kind == "conv":  # SpikingJelly's BatchNorm2d(eps=1e-5, momentum=0.1) = BrainPy momentum 0.9
                    kinds += [("static_conv" if i == 0 else "conv",
                               bp.dnn.Conv2d(channels, spec.size, spec.kernel, padding="SAME", b_initializer=None)),
                              ("norm", bp.dnn.BatchNorm2d(spec.size, momentum=0.9, epsilon=1e-5)),
                              ("neuron", make_neuron(kind, (h, w, spec.size), model.neuron, batch))]
                    channels = spec.size
                elif spec.kind == "pool":
                    if spec.pool != "max":
                        raise ValueError("the BrainPy peer has max pooling only")
                    kinds.append(("pool", bp.dnn.MaxPool2d(spec.size, spec.size, channel_axis=-1)))
                    h, w = h // spec.size, w // spec.size
                elif spec.kind == "dropout":
                    kinds.append(("dropout", None))
                elif spec.kind == "dense":
                    kinds += [("dense", bp.dnn.Linear(features, spec.size)),
                              ("neuron", make_neuron(kind, (spec.size,), model.neuron, batch))]
                    features = spec.size
                elif spec.kind == "vote":
                    kinds.append(("vote", features // spec.size))
            self.kinds = tuple(k for k, _ in kinds)
            self.layers = [layer for _, layer in kinds]
            for i, layer in enumerate(self.layers):  # registered as children, so their variables are found
                if isinstance(layer, bp.DynamicalSystem):
                    setattr(self, f"layer{i}", layer)

        def logits(self, image, train: bool = True):
            t, h = self.time_steps, None
            for kind, layer in zip(self.kinds, self.layers):
                if kind == "static_conv":
                    h = layer(image)
                elif kind == "norm" and h.ndim == 4:  # the static block: once, then repeated over T
                    h = jnp.broadcast_to(layer(h), (t,) + h.shape)
                elif kind in ("conv", "norm", "dense", "pool"):
                    y = layer(h.reshape((-1,) + h.shape[2:]))
                    h = y.reshape((t, -1) + y.shape[1:])
                elif kind == "neuron":
                    h = _run_over_time(layer, h)
                elif kind == "flatten":
                    h = h.reshape(h.shape[:2] + (-1,))
                elif kind == "dropout" and train:
                    keep = bm.random.bernoulli(1.0 - self.dropout, h.shape[1:]).astype(h.dtype)
                    h = h * keep / (1.0 - self.dropout)  # one mask for all T steps
                elif kind == "vote":
                    h = h.reshape(h.shape[:-1] + (-1, layer)).mean(-1)
            return h.mean(0)  # rate over T

    return ConvNet


def build(workload, kind: str, batch: int):
    """The BrainPy net of ``workload`` with ``kind`` neurons (``net.logits(x)``: batch-major input -> ``[B, K]``)."""
    import brainpy.math as bm

    bm.set_environment(mode=bm.TrainingMode(batch_size=batch), dt=1.0)
    cls = _seq_net_class() if workload.config.model.arch == "sequence" else _conv_net_class()
    return cls(workload, kind, batch)


def _loss(config):
    import optax

    if config.loss.name == "mse_rate":
        return lambda out, y: jnp.mean((out - jax.nn.one_hot(y, out.shape[-1])) ** 2)
    return lambda out, y: optax.softmax_cross_entropy_with_integer_labels(out, y).mean()


def make_step(workload, kind: str, batch: int, train: bool = True):
    """``call()``: one BrainPy train step (forward, loss, ``bm.grad``, ``bp.optim.Adam``; ``bm.jit``)
    or eval forward of a fresh net on one batch of ``bench.workloads.random_batch``."""
    import brainpy as bp
    import brainpy.math as bm

    net = build(workload, kind, batch)
    x, y = (jnp.asarray(a) for a in wl.random_batch(workload, batch))
    loss_of = _loss(workload.config)
    conv = workload.config.model.arch != "sequence"
    if train:
        def loss_fn(x, y):
            bp.share.save(fit=True)
            return loss_of(net.logits(x), y)

        opt = bp.optim.Adam(lr=float(workload.config.optim.learning_rate), train_vars=net.train_vars().unique())
        grad = bm.grad(loss_fn, grad_vars=net.train_vars().unique(), return_value=True)

        @bm.jit
        def step(x, y):
            grads, loss = grad(x, y)
            opt.update(grads)
            return loss
    else:
        @bm.jit
        def step(x, y):
            bp.share.save(fit=False)
            return ((net.logits(x, train=False) if conv else net.logits(x)).argmax(-1) == y).mean()
    return lambda: step(x, y)


def _version() -> str:
    import brainpy

    return brainpy.__version__


# BrainPy's bm.jit traces a step again on its second call (its variables settle), so at least 3 warm-ups
WARMUP = 3


def records(runs, neurons, steps: int, repeats: int):
    """Per (workload, batch, T) and mode: snnjax's record (``bench.run``'s, timed anew each round),
    each BrainPy neuron's (built and warmed up once), alternated for ``repeats`` rounds, the fastest
    of each kept; then our/their ratios."""
    from bench import run as bench_run

    if not available():
        yield {"note": "brainpy is not importable here (bash bench/peers/setup_venvs.sh brainpy); snnjax only"}
        neurons = ()
    by_name = {w.name: w for w in wl.workloads()}
    for name, batch, time_steps in runs:
        workload = bench_run.resized(by_name[name], batch, time_steps)
        for mode in ("train", "eval"):
            calls = {kind: make_step(workload, kind, batch, train=mode == "train") for kind in neurons}
            for call in calls.values():  # compile, and BrainPy's second trace
                best_window(call, jax.block_until_ready, WARMUP, 1, 1)
            seconds = dict.fromkeys(calls, math.inf)
            ours = None
            for _ in range(repeats):
                r = bench_run.snnjax_record(workload, batch, mode, steps, warmup=1, impl="scan")
                ours = r if ours is None or r["samples_per_s"] > ours["samples_per_s"] else ours
                for kind, call in calls.items():
                    seconds[kind] = min(seconds[kind], best_window(call, jax.block_until_ready, 0, steps, 1))
            yield ours
            for kind, dt in seconds.items():
                yield {"framework": "brainpy", "path": kind, "workload": name, "mode": mode, "batch": batch,
                       "T": ours["T"], "ms_per_step": round(1000 * dt, 3), "samples_per_s": round(batch / dt, 1),
                       "peak_mem_MiB": peak_memory_mib(), "brainpy": _version(), **device_record()}
                yield {"ratio": f"snnjax/brainpy[{kind}] {name} {mode} batch {batch}",
                       "samples_per_s_ratio": round(ours["samples_per_s"] * dt / batch, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a check that the bench runs")
    parser.add_argument("--only", nargs="*", choices=[r[0] for r in RUNS], help="workloads to run")
    parser.add_argument("--neurons", nargs="*", choices=NEURONS, default=list(NEURONS), help="BrainPy neurons")
    parser.add_argument("--steps", type=int, help="timed steps per window (default 10; 2 with --quick)")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="windows per record, alternated")
    parser.add_argument("--jsonl", help="also write the JSON lines here")
    args = parser.parse_args(argv)
    runs = [r for r in (QUICK_RUNS if args.quick else RUNS) if not args.only or r[0] in args.only]
    steps = args.steps or (2 if args.quick else 10)
    print_records(records(runs, args.neurons, steps, args.repeats), args.jsonl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
