"""The same workloads in SpikingJelly (PyTorch), layer for layer, timed the same way.

:func:`build` turns a :class:`bench.workloads.Workload` into the SpikingJelly net with the same
layers and parameter shapes as the snnjax model of its config (``tests/test_bench.py`` checks the
parameter count and the layer list against the built snnjax model), as ``../shared/bench/anchor_*.py``
build them:

- conv nets (``seed_bn_lif``, ``seed_llc_lif``): the spec's layers in order; the first conv and its
  BatchNorm run once on the static image and are repeated over T (as snnjax's direct encoding does,
  and SpikingJelly's own conv MNIST example); ``LIFNode(tau=2, decay_input=True, detach_reset=True,
  Sigmoid(4))`` for LIF, ``ParametricLIFNode(init_tau=2, ...)`` for LLC-LIF (with plain BatchNorm:
  SpikingJelly has no LLC-BN, which has the same parameters); dense layers with a bias, voting last.
- sequence nets (``seq_plif``, ``seq_ce_lif``): ``Linear`` + neuron per hidden layer, a linear
  readout averaged over time. SpikingJelly has no CE-LIF; :class:`CELIFNode` writes its step
  (ce-lif paper §3) as a SpikingJelly-style multi-step node with SpikingJelly's ``Rect`` surrogate
  (the boxcar of width 0.2), and the temporal encoding ``TE [T, max(hidden)]`` is one parameter
  sliced per layer, as in snnjax.

Runs on CUDA where torch has it, else on the CPU (SpikingJelly's ``torch`` backend, in
``torch.get_num_threads()`` threads). Imported only by ``python -m bench.run --peer``.
"""

from __future__ import annotations

from typing import Any

from bench.timing import best_window, host_malloc_record
from bench.workloads import sequence_layout
from snnjax.models.spec import parse_spec


def available() -> bool:
    """torch and spikingjelly importable (CUDA is used when there, not needed)."""
    try:
        import spikingjelly.activation_based  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _node(neuron):
    """The SpikingJelly node for a snnjax ``config.model.neuron`` of kind lif / llc_lif."""
    from spikingjelly.activation_based import neuron as sj_neuron
    from spikingjelly.activation_based import surrogate

    if neuron.surrogate != "sigmoid":
        raise ValueError(f"no SpikingJelly peer for surrogate {neuron.surrogate!r}")
    kw = dict(v_threshold=neuron.v_th, decay_input=neuron.decay_input, detach_reset=neuron.detach_reset,
              surrogate_function=surrogate.Sigmoid(alpha=neuron.surrogate_param or 4.0), step_mode="m")
    if neuron.kind == "lif":
        return sj_neuron.LIFNode(tau=1.0 / (1.0 - neuron.decay), **kw)
    if neuron.kind == "llc_lif":  # sigmoid(a_init) = 1/tau
        import math

        return sj_neuron.ParametricLIFNode(init_tau=1.0 + math.exp(-neuron.a_init), **kw)
    raise ValueError(f"no SpikingJelly peer for neuron kind {neuron.kind!r}")


def _conv_net(config, input_shape, num_classes):
    import torch
    import torch.nn as nn
    from spikingjelly.activation_based import layer

    model = config.model
    if model.encoder != "direct" or model.get("ossa", False) or model.get("local_heads", "none") != "none":
        raise ValueError("the SpikingJelly peer covers plain direct-encoded conv nets only")
    time_steps = int(model.time_steps)
    h, w, channels = input_shape
    layers = parse_spec(model.spec, num_classes, model.get("pool", "max"))

    class StaticFirstBlock(nn.Module):
        """Conv → BN once on the image, repeated over T, then the neuron (multi-step)."""

        def __init__(self, conv, bn, node):
            super().__init__()
            self.conv, self.bn, self.node = conv, bn, node

        def forward(self, x):  # x: [B, C, H, W]
            y = self.bn(self.conv(x))
            return self.node(y.unsqueeze(0).repeat(time_steps, *([1] * y.ndim)))

    class RepeatOverTime(nn.Module):
        """Direct encoding of a net that does not start with a conv: ``[B, ...] -> [T, B, ...]``."""

        def forward(self, x):
            return x.unsqueeze(0).repeat(time_steps, *([1] * x.ndim))

    spatial = [i for i, l in enumerate(layers) if l.kind in ("conv", "pool")]
    split = spatial[-1] + 1 if spatial else 0  # where snnjax flattens (before the head's dropout)
    mods: list[nn.Module] = [] if layers[0].kind == "conv" else [RepeatOverTime()]
    features = None
    for i, spec_layer in enumerate(layers):
        if i == split:
            mods.append(layer.Flatten(step_mode="m"))
            features = channels * h * w
        if spec_layer.kind == "conv":
            conv_kw = dict(padding=spec_layer.kernel // 2, bias=model.norm == "none")
            if i == 0:
                conv = nn.Conv2d(channels, spec_layer.size, spec_layer.kernel, **conv_kw)
                mods.append(StaticFirstBlock(conv, nn.BatchNorm2d(spec_layer.size), _node(model.neuron)))
            else:
                mods += [layer.Conv2d(channels, spec_layer.size, spec_layer.kernel, step_mode="m", **conv_kw),
                         layer.BatchNorm2d(spec_layer.size, step_mode="m"), _node(model.neuron)]
            channels = spec_layer.size
        elif spec_layer.kind == "pool":
            if spec_layer.pool != "max":
                raise ValueError("the SpikingJelly peer has max pooling only")
            mods.append(layer.MaxPool2d(spec_layer.size, step_mode="m"))
            h, w = h // spec_layer.size, w // spec_layer.size
        elif spec_layer.kind == "dropout":
            mods.append(layer.Dropout(model.dropout, step_mode="m"))
        elif spec_layer.kind == "dense":
            mods += [layer.Linear(features, spec_layer.size, bias=True, step_mode="m"), _node(model.neuron)]
            features = spec_layer.size
        elif spec_layer.kind == "vote":
            mods.append(layer.VotingLayer(features // spec_layer.size, step_mode="m"))
    return nn.Sequential(*mods), torch.nn.functional.mse_loss


def _ce_lif_node_class():
    """The ``CELIFNode`` class (built on use, so torch stays an optional import)."""
    import torch
    import torch.nn as nn
    from spikingjelly.activation_based import surrogate

    class CELIFNode(nn.Module):
        """CE-LIF (ce-lif paper §3) as a multi-step node: ``x_seq [T, B, N], te [T, N] -> s_seq``.

        ``u[t] = k v[t-1] + x[t]``, ``θ[t] = ρ θ[t-1] + (1-ρ) θ₀ + u[t-1] TE[t]``,
        ``s[t] = H(u[t] - θ[t])`` (SpikingJelly's ``Rect`` surrogate), hard reset.
        """

        def __init__(self, decay, rho, v_th, width, reset, detach_reset):
            super().__init__()
            if reset != "hard" or detach_reset:
                raise ValueError("the CE-LIF peer node has the paper's hard, undetached reset only")
            self.decay, self.rho, self.v_th = decay, rho, v_th
            self.spike = surrogate.Rect(alpha=1.0 / width)

        def forward(self, x_seq, te):
            v = torch.zeros_like(x_seq[0])
            u_prev = torch.zeros_like(x_seq[0])
            theta = torch.full_like(x_seq[0], self.v_th)
            out = []
            for t in range(x_seq.shape[0]):
                u = self.decay * v + x_seq[t]
                theta = self.rho * theta + (1 - self.rho) * self.v_th + u_prev * te[t]
                s = self.spike(u - theta)
                v = u * (1 - s)
                u_prev = u
                out.append(s)
            return torch.stack(out)

    return CELIFNode


def _seq_net(config, input_shape, num_classes):
    import torch
    import torch.nn as nn
    from spikingjelly.activation_based import layer

    model = config.model
    time_steps, hidden, widths = sequence_layout(config, input_shape, "SpikingJelly")
    neuron = model.neuron

    class SeqNet(nn.Module):
        def __init__(self):
            super().__init__()
            fcs = [layer.Linear(a, b, step_mode="m") for a, b in zip(widths[:-1], widths[1:])]
            if neuron.kind == "ce_lif":
                node = _ce_lif_node_class()
                self.te = nn.Parameter(torch.normal(model.get("te_init_mean", 0.01), model.get("te_init_std", 0.01),
                                                    (time_steps, max(hidden))))
                width = neuron.surrogate_param or 0.2
                nodes = [node(neuron.decay, neuron.rho, neuron.v_th, width, neuron.reset, neuron.detach_reset)
                         for _ in hidden]
            else:
                self.te = None
                nodes = [_node(neuron) for _ in hidden]
            self.body = nn.ModuleList(m for pair in zip(fcs, nodes) for m in pair)  # fc0, node0, fc1, ...
            self.readout = nn.Linear(hidden[-1], num_classes)

        def forward(self, x):  # x: [T, B, C]
            h = x
            for fc, node, width in zip(self.body[::2], self.body[1::2], hidden):
                h = fc(h)
                h = node(h) if self.te is None else node(h, self.te[:, :width])
            return self.readout(h).mean(0)

    return SeqNet(), torch.nn.functional.cross_entropy


def build(workload) -> tuple[Any, Any]:
    """``(net, loss_fn)``: the SpikingJelly net of ``workload`` (see the module docstring)."""
    if workload.config.model.arch == "sequence":
        return _seq_net(workload.config, workload.input_shape, workload.num_classes)
    return _conv_net(workload.config, workload.input_shape, workload.num_classes)


def layer_list(net) -> list[str]:
    """The net's layers in forward order, by class name: leaf modules, a neuron node as one layer
    (not its surrogate), the static first block as its conv, norm and node."""
    from spikingjelly.activation_based import neuron as sj_neuron

    names: list[str] = []

    def walk(module):
        if isinstance(module, sj_neuron.BaseNode) or type(module).__name__ == "CELIFNode":
            names.append(type(module).__name__)
        elif not list(module.children()):
            names.append(type(module).__name__)
        else:
            for child in module.children():
                walk(child)

    walk(net)
    return names


def parameter_count(net) -> int:
    return sum(p.numel() for p in net.parameters())


def run(workload, batch: int, steps: int, train: bool = True, warmup: int = 3,
        repeats: int = 1) -> dict[str, Any] | None:
    """Seconds per train step (forward, loss, backward, Adam) or eval forward of the peer net, the
    fastest of ``repeats`` windows of ``steps``; None when :func:`build` has no peer for the workload
    (it raises ``ValueError`` saying why)."""
    import torch
    import torch.nn.functional as F
    from spikingjelly.activation_based import functional

    device = _device()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    try:
        net, loss_fn = build(workload)
    except ValueError:  # a workload this file has no peer for
        return None
    net = net.to(device)
    opt = torch.optim.Adam(net.parameters(), float(workload.config.optim.learning_rate))
    num_classes = workload.num_classes
    y = torch.randint(0, num_classes, (batch,), device=device)
    if workload.config.model.arch == "sequence":
        h, w, c = workload.input_shape
        x = torch.rand(h * w, batch, c, device=device)  # pixel encoding, time-major
        target = y
        forward = net
    else:
        h, w, c = workload.input_shape
        x = torch.rand(batch, c, h, w, device=device)
        target = F.one_hot(y, num_classes).float()
        forward = lambda x: net(x).mean(0)  # noqa: E731 (rate readout over T)

    def train_step():
        loss = loss_fn(forward(x), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        functional.reset_net(net)

    @torch.no_grad()
    def eval_step():
        forward(x)
        functional.reset_net(net)

    net.train(train)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    dt = best_window(train_step if train else eval_step, lambda _: _sync(device), warmup, steps, repeats)
    peak = round(torch.cuda.max_memory_allocated() / 2**20, 1) if device.type == "cuda" else None
    return {"ms_per_step": round(1000 * dt, 3), "samples_per_s": round(batch / dt, 1), "peak_mem_MiB": peak,
            "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), **host_malloc_record()}
