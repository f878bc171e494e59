"""The same workloads in SpikingJelly (PyTorch), timed the same way, for ratios taken in one run.

Built as ``../shared/bench/anchor_*.py`` build them. Imported only when torch and spikingjelly are
importable (``python -m bench.run --peer``).
"""

from __future__ import annotations

import time
from typing import Any


def available() -> bool:
    try:
        import spikingjelly  # noqa: F401
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def _seed_net(batch: int, plif: bool):
    import torch.nn as nn
    from spikingjelly.activation_based import layer, neuron, surrogate

    def node():
        if plif:
            return neuron.ParametricLIFNode(init_tau=2.0, surrogate_function=surrogate.Sigmoid(), detach_reset=True, step_mode="m")
        return neuron.LIFNode(tau=2.0, v_threshold=1.0, surrogate_function=surrogate.Sigmoid(), detach_reset=True, step_mode="m")

    return nn.Sequential(
        layer.Conv2d(1, 128, 3, padding=1, bias=False, step_mode="m"), layer.BatchNorm2d(128, step_mode="m"), node(),
        layer.MaxPool2d(2, step_mode="m"),
        layer.Conv2d(128, 128, 3, padding=1, bias=False, step_mode="m"), layer.BatchNorm2d(128, step_mode="m"), node(),
        layer.MaxPool2d(2, step_mode="m"),
        layer.Flatten(step_mode="m"), layer.Dropout(0.5, step_mode="m"),
        layer.Linear(7 * 7 * 128, 2048, bias=False, step_mode="m"), node(),
        layer.Dropout(0.5, step_mode="m"),
        layer.Linear(2048, 100, bias=False, step_mode="m"), node(),
        layer.VotingLayer(10, step_mode="m"),
    )


def _time(step, warmup: int, steps: int) -> float:
    import torch

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def seed(batch: int, steps: int, plif: bool = False, train: bool = True) -> dict[str, Any]:
    """The T=8 seed net (``anchor_spikingjelly.py``); ``plif`` swaps in PLIF neurons."""
    import torch
    import torch.nn.functional as F
    from spikingjelly.activation_based import functional

    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    net = _seed_net(batch, plif).cuda()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    x = torch.rand(batch, 1, 28, 28, device="cuda")
    y = F.one_hot(torch.randint(0, 10, (batch,), device="cuda"), 10).float()

    def train_step():
        out = net(x.unsqueeze(0).repeat(8, 1, 1, 1, 1)).mean(0)
        loss = F.mse_loss(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        functional.reset_net(net)

    @torch.no_grad()
    def eval_step():
        net(x.unsqueeze(0).repeat(8, 1, 1, 1, 1)).mean(0)
        functional.reset_net(net)

    net.train(train)
    torch.cuda.reset_peak_memory_stats()
    dt = _time(train_step if train else eval_step, 5, steps)
    return {"ms_per_step": round(1000 * dt, 3), "samples_per_s": round(batch / dt, 1),
            "peak_mem_MiB": round(torch.cuda.max_memory_allocated() / 2**20, 1)}


def seq(batch: int, steps: int, train: bool = True) -> dict[str, Any]:
    """The T=784 PLIF net (``anchor_seq.py``)."""
    import torch
    import torch.nn as nn
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    dims = (1, 64, 152, 152)
    mods = []
    for a, b in zip(dims[:-1], dims[1:]):
        mods += [layer.Linear(a, b, step_mode="m"),
                 neuron.ParametricLIFNode(init_tau=2.0, detach_reset=True, step_mode="m", surrogate_function=surrogate.Sigmoid())]
    body = nn.Sequential(*mods).cuda()
    head = nn.Linear(dims[-1], 10).cuda()
    opt = torch.optim.Adam(list(body.parameters()) + list(head.parameters()), 5e-4)
    x = torch.rand(784, batch, 1, device="cuda")
    y = torch.randint(0, 10, (batch,), device="cuda")

    def train_step():
        loss = nn.functional.cross_entropy(head(body(x)).mean(0), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        functional.reset_net(body)

    @torch.no_grad()
    def eval_step():
        head(body(x)).mean(0)
        functional.reset_net(body)

    torch.cuda.reset_peak_memory_stats()
    dt = _time(train_step if train else eval_step, 3, steps)
    return {"ms_per_step": round(1000 * dt, 3), "samples_per_s": round(batch / dt, 1),
            "peak_mem_MiB": round(torch.cuda.max_memory_allocated() / 2**20, 1)}
