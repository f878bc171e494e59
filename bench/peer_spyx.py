"""The same workloads in Spyx 1.0 (Flax NNX), layer for layer, trained with Spyx's own step.

:func:`build` turns a :class:`bench.workloads.Workload` into a Spyx net with the same layers and
parameter shapes as the snnjax model of its config (``tests/test_bench.py`` checks both), written the
way Spyx's API and docs write a net:

- sequence nets (``seq_plif``, ``seq_ce_lif``): a ``spyx.nn.Sequential`` of ``nnx.Linear`` and
  neuron layers with a linear readout, driven over time by ``spyx.nn.run`` (one ``lax.scan`` whose
  body is the whole net, Spyx's schedule), the readout averaged over time. PLIF is Spyx's ``LIF``
  with its decay β a learned scalar (β = 0.5, as PLIF's init_tau = 2). Spyx has no CE-LIF:
  :class:`CELIF` writes the ce-lif paper's step (§3) to Spyx's neuron contract
  (``initial_state(batch)``, ``(x_t, state) -> (spikes, state)``) with Spyx's ``boxcar`` surrogate,
  the temporal encoding ``TE [T, max(hidden)]`` one parameter shared by the layers and sliced per
  layer, as in snnjax.
- conv nets (``seed_bn_lif``, ``seed_llc_lif``): BatchNorm normalises over ``T·B`` (snnjax's and
  SpikingJelly's convention), and an ``nnx.BatchNorm`` updates its statistics, which NNX does not
  allow inside ``spyx.nn.run``'s scan. So each conv / norm / pool / dense layer runs on all T steps
  at once and each neuron layer is its own ``spyx.nn.run`` scan, the layer-by-layer schedule of
  snnjax and SpikingJelly's multi-step mode. The first conv and its BatchNorm run once on the
  static image and are repeated over T; dropout keeps one mask over T; voting last.
  The neurons are Spyx's ``LIF`` (β = 0.5 for LIF, a learned scalar for LLC-LIF), which makes β a
  parameter in both, so the LIF net has its four β as parameters more than snnjax's.

Spyx's ``LIF`` fires on the membrane *before* the step's input and resets by subtraction, so its
spikes are not SpikingJelly's or snnjax's; the arithmetic per step is the same size. These nets are
for timing, not for numerical comparison. A train step is ``spyx.optimize.make_train_step``
(``nnx.jit`` of ``nnx.value_and_grad`` and an ``nnx.Optimizer`` update with the workload's Adam);
eval is ``spyx.optimize.make_eval_step``. Runs on JAX's default device, in this process. Imported
only by ``python -m bench.run --peer``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bench.timing import best_window, device_record, peak_memory_mib
from bench.workloads import random_batch, sequence_layout
from snnjax.models.spec import parse_spec


def available() -> bool:
    """spyx (and with it flax.nnx) importable."""
    try:
        import spyx  # noqa: F401
    except ImportError:
        return False
    return True


def _sigmoid_surrogate(alpha: float):
    """SpikingJelly's ``Sigmoid(alpha)`` surrogate as a Spyx activation."""
    import spyx

    def grad(x):
        s = jax.nn.sigmoid(alpha * x)
        return alpha * s * (1.0 - s)

    return spyx.axn.custom(grad, spyx.axn.heaviside)


def _lif(neuron, hidden_shape: tuple[int, ...], rngs):
    """Spyx's ``LIF`` for a snnjax ``config.model.neuron`` of kind lif / llc_lif (β a scalar)."""
    import spyx

    if neuron.surrogate != "sigmoid":
        raise ValueError(f"no Spyx peer for surrogate {neuron.surrogate!r}")
    if neuron.kind == "lif":
        beta = float(neuron.decay)
    elif neuron.kind == "llc_lif":  # k_tau = sigmoid(a_init)
        beta = float(1.0 / (1.0 + np.exp(-neuron.a_init)))
    else:
        raise ValueError(f"no Spyx peer for neuron kind {neuron.kind!r}")
    return spyx.nn.LIF(hidden_shape, beta=beta, threshold=float(neuron.v_th),
                       activation=_sigmoid_surrogate(float(neuron.surrogate_param or 4.0)), rngs=rngs)


class CELIFState(NamedTuple):
    v: jax.Array  # membrane after reset
    u_prev: jax.Array  # membrane before reset, previous step
    theta: jax.Array  # adaptive threshold
    t: jax.Array  # step index (int32 scalar), which row of TE to use


def _ce_lif_class():
    """The ``CELIF`` class (built on use, so flax.nnx and spyx stay optional imports)."""
    import spyx
    from flax import nnx

    class CELIF(nnx.Module):
        """CE-LIF (ce-lif paper §3) under Spyx's neuron contract, one step per call:

        ``u[t] = k v[t-1] + x[t]``, ``θ[t] = ρ θ[t-1] + (1-ρ) θ₀ + u[t-1] TE[t]``,
        ``s[t] = H(u[t] - θ[t])`` (boxcar surrogate of width w, height 1/w), ``v[t] = u[t](1 - s[t])``.
        ``te`` is the shared ``[T, N_max]`` parameter; this layer reads its first ``width`` columns.
        """

        def __init__(self, width: int, te: nnx.Param, decay: float, rho: float, v_th: float, surrogate_width: float):
            self.width, self.te = width, te
            self.decay, self.rho, self.v_th = decay, rho, v_th
            self.spike = spyx.axn.boxcar(width=surrogate_width, height=1.0 / surrogate_width)

        def initial_state(self, batch_size: int) -> CELIFState:
            zeros = jnp.zeros((batch_size, self.width))
            return CELIFState(zeros, zeros, jnp.full_like(zeros, self.v_th), jnp.zeros((), jnp.int32))

        def __call__(self, x, state: CELIFState):
            te_t = jax.lax.dynamic_index_in_dim(self.te[...], state.t)[:, : self.width]  # [1, width]
            u = self.decay * state.v + x
            theta = self.rho * state.theta + (1 - self.rho) * self.v_th + state.u_prev * te_t
            s = self.spike(u - theta)
            return s, CELIFState(u * (1 - s), u, theta, state.t + 1)

    return CELIF


def _seq_net(config, input_shape, num_classes, rngs):
    import spyx
    from flax import nnx

    model = config.model
    time_steps, hidden, widths = sequence_layout(config, input_shape, "Spyx")
    neuron = model.neuron
    if neuron.kind == "ce_lif":
        cls = _ce_lif_class()
        te = nnx.Param(model.get("te_init_mean", 0.01) + model.get("te_init_std", 0.01)
                       * jax.random.normal(rngs.params(), (time_steps, max(hidden))))
        nodes = [cls(w, te, neuron.decay, neuron.rho, neuron.v_th, neuron.surrogate_param or 0.2) for w in hidden]
    else:
        nodes = [_lif(neuron, (w,), rngs) for w in hidden]
    layers = []
    for a, b, node in zip(widths[:-1], widths[1:], nodes):
        layers += [nnx.Linear(a, b, rngs=rngs), node]
    return spyx.nn.Sequential(*layers, nnx.Linear(hidden[-1], num_classes, rngs=rngs))


def _seq_forward(net, x):
    """``x [B, H, W, C]`` (the loader's image) read one pixel per step → time-averaged readout ``[B, classes]``."""
    import spyx

    out, _ = spyx.nn.run(net, x.reshape(x.shape[0], -1, x.shape[-1]), batch_major=True)
    return out.mean(1)


def _conv_net_class():
    import spyx
    from flax import nnx

    class ConvNet(nnx.Module):
        """The spec's layers in order; each runs on all T steps at once, each neuron is one scan."""

        def __init__(self, config, input_shape, num_classes, rngs):
            model = config.model
            if model.encoder != "direct" or model.get("ossa", False) or model.get("local_heads", "none") != "none":
                raise ValueError("the Spyx peer covers plain direct-encoded conv nets only")
            if model.norm not in ("bn", "llc_bn"):
                raise ValueError(f"the Spyx peer has BatchNorm only, not norm {model.norm!r}")
            self.time_steps = int(model.time_steps)
            h, w, channels = input_shape
            specs = parse_spec(model.spec, num_classes, model.get("pool", "max"))
            if specs[0].kind != "conv":
                raise ValueError("the Spyx peer's conv nets start with a conv")
            spatial = [i for i, l in enumerate(specs) if l.kind in ("conv", "pool")]
            split = spatial[-1] + 1
            layers, kinds, features = [], [], None
            for i, spec in enumerate(specs):
                if i == split:
                    kinds.append("flatten")
                    layers.append(None)
                    features = channels * h * w
                if spec.kind == "conv":  # SJ's BatchNorm2d(eps=1e-5, momentum=0.1) = NNX momentum 0.9
                    layers += [nnx.Conv(channels, spec.size, (spec.kernel, spec.kernel), padding="SAME",
                                        use_bias=False, rngs=rngs),
                               nnx.BatchNorm(spec.size, momentum=0.9, epsilon=1e-5, rngs=rngs),
                               _lif(model.neuron, (h, w, spec.size), rngs)]
                    kinds += ["static_conv" if i == 0 else "conv", "norm", "neuron"]
                    channels = spec.size
                elif spec.kind == "pool":
                    if spec.pool != "max":
                        raise ValueError("the Spyx peer has max pooling only")
                    layers.append(spec.size)
                    kinds.append("pool")
                    h, w = h // spec.size, w // spec.size
                elif spec.kind == "dropout":
                    layers.append(nnx.Dropout(model.dropout, broadcast_dims=(0,), rngs=rngs))
                    kinds.append("dropout")
                elif spec.kind == "dense":
                    layers += [nnx.Linear(features, spec.size, rngs=rngs), _lif(model.neuron, (spec.size,), rngs)]
                    kinds += ["dense", "neuron"]
                    features = spec.size
                elif spec.kind == "vote":
                    layers.append(features // spec.size)
                    kinds.append("vote")
            self.layers = nnx.List(layers) if hasattr(nnx, "List") else layers
            self.kinds = tuple(kinds)

        def __call__(self, image):  # image [B, H, W, C] → outputs [T, B, classes]
            h = None
            for kind, layer in zip(self.kinds, self.layers):
                if kind == "static_conv":
                    h = layer(image)
                elif kind == "norm" and h.ndim == 4:  # the static block: BN once, then repeated over T
                    h = jnp.broadcast_to(layer(h), (self.time_steps,) + h.shape)
                elif kind in ("conv", "norm", "dense"):
                    t, b = h.shape[:2]
                    y = layer(h.reshape((t * b,) + h.shape[2:]))
                    h = y.reshape((t, b) + y.shape[1:])
                elif kind == "neuron":
                    h, _ = spyx.nn.run(layer, h)
                elif kind == "pool":
                    t, b = h.shape[:2]
                    y = nnx.max_pool(h.reshape((t * b,) + h.shape[2:]), (layer, layer), (layer, layer))
                    h = y.reshape((t, b) + y.shape[1:])
                elif kind == "flatten":
                    h = h.reshape(h.shape[:2] + (-1,))
                elif kind == "dropout":
                    h = layer(h)
                elif kind == "vote":
                    h = h.reshape(h.shape[:-1] + (-1, layer)).mean(-1)
            return h

    return ConvNet


def build(workload, seed: int = 0) -> tuple[Any, Any]:
    """``(net, forward)``: the Spyx net of ``workload`` (an ``nnx.Module``) and ``forward(net, x)``,
    which maps a batch-major input batch to the logits / rates the loss reads."""
    from flax import nnx

    rngs = nnx.Rngs(params=seed, dropout=seed + 1)
    if workload.config.model.arch == "sequence":
        return _seq_net(workload.config, workload.input_shape, workload.num_classes, rngs), _seq_forward
    net = _conv_net_class()(workload.config, workload.input_shape, workload.num_classes, rngs)
    return net, lambda net, x: net(x).mean(0)  # rate readout over T


def layer_list(net) -> list[str]:
    """The net's layers in forward order, by class name (a pool, flatten or vote by its kind)."""
    if hasattr(net, "kinds"):  # the conv net
        return [type(layer).__name__ if layer is not None and not isinstance(layer, int) else kind.capitalize()
                for kind, layer in zip(net.kinds, net.layers)]
    return [type(layer).__name__ for layer in net.layers]


def parameter_shapes(net) -> list[tuple[int, ...]]:
    """Shapes of the net's ``nnx.Param`` leaves (shared ones once), in flax's layout."""
    from flax import nnx

    return [tuple(p.shape) for p in jax.tree.leaves(nnx.state(net, nnx.Param))]


def _loss(config):
    import optax

    if config.loss.name == "mse_rate":
        return lambda out, y: jnp.mean((out - jax.nn.one_hot(y, out.shape[-1])) ** 2)
    return lambda out, y: optax.softmax_cross_entropy_with_integer_labels(out, y).mean()


def run(workload, batch: int, steps: int, train: bool = True, warmup: int = 3,
        repeats: int = 1) -> dict[str, Any] | None:
    """Seconds per train step (``spyx.optimize.make_train_step``: forward, loss, backward, Adam) or
    eval forward (``make_eval_step``) of the Spyx net, the fastest of ``repeats`` windows of
    ``steps``; None when :func:`build` has no peer for the workload (it raises ``ValueError`` saying
    why). Spyx and NNX run under JAX's standard promotion rules (snnjax's tests set strict ones,
    which NNX's optimiser does not follow)."""
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        return _run(workload, batch, steps, train, warmup, repeats)


def _run(workload, batch: int, steps: int, train: bool, warmup: int, repeats: int) -> dict[str, Any] | None:
    import optax
    import spyx
    from flax import nnx

    try:
        net, forward = build(workload)
    except ValueError:
        return None
    loss_of = _loss(workload.config)
    x, y = (jnp.asarray(a) for a in random_batch(workload, batch))
    if train:
        net.train()
        optimizer = nnx.Optimizer(net, optax.adam(float(workload.config.optim.learning_rate)), wrt=nnx.Param)
        train_step = spyx.optimize.make_train_step(lambda m, x, y: loss_of(forward(m, x), y))
        step = lambda: train_step(net, optimizer, x, y)  # noqa: E731
    else:
        net.eval()
        eval_step = spyx.optimize.make_eval_step(
            lambda m, x, y: (lambda out: ((out.argmax(-1) == y).mean(), loss_of(out, y)))(forward(m, x)))
        step = lambda: eval_step(net, x, y)  # noqa: E731
    # NNX re-traces the first calls, while β and Adam's count settle their types: at least 3 warm-ups
    dt = best_window(step, jax.block_until_ready, max(warmup, 3), steps, repeats)
    return {"ms_per_step": round(1000 * dt, 3), "samples_per_s": round(batch / dt, 1),
            "peak_mem_MiB": peak_memory_mib(), "spyx": spyx.__version__, **device_record()}
