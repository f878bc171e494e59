"""Temporary memory of the Seq-MNIST CE-LIF train step against T, remat off and on: a small PNG.

    python -m bench.memory_plot                                   # docs/remat_memory.png
    python -m bench.memory_plot --T 98 196 392 784 --batch 256 --out docs/remat_memory.png

Compiles the train step of ``configs/ce_lif_seq_mnist.py`` at each T (pixel sequences of T steps)
with remat off (per-layer scans, the training default), ``neuron.remat≈√T``, ``model.remat=1`` and
``model.remat≈√T`` (:mod:`bench.memory`), and plots XLA's ``temp_size_in_bytes`` of each: exact
figures, no timing, so the machine's load does not enter. Also prints each point as a JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys

from bench import memory

SQRT_T = -1  # placeholder: k ≈ √T at each T (memory.sqrt_remat)
LINES = (("remat off", dict()), ("neuron.remat≈√T", dict(neuron_remat=SQRT_T)),
         ("model.remat=1", dict(model_remat=1)), ("model.remat≈√T", dict(model_remat=SQRT_T)))


def points(steps: list[int], batch: int) -> dict[str, list[float]]:
    """MiB of temporary memory per line of :data:`LINES`, at each T of ``steps``."""
    w = memory.seq_mnist_workload()
    out: dict[str, list[float]] = {label: [] for label, _ in LINES}
    for t in steps:
        for label, switches in LINES:
            switches = {key: memory.sqrt_remat(t) if value == SQRT_T else value for key, value in switches.items()}
            case = memory.Case(w, t, batch, **switches)
            record = next(memory.records([case], timed=False))
            print(json.dumps(record), flush=True)
            out[label].append(record["temp_size_in_bytes"] / 2**20)
    return out


def plot(steps: list[int], lines: dict[str, list[float]], batch: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=100)
    for label, mib in lines.items():
        ax.plot(steps, mib, marker="o", label=label, linestyle="--" if label.startswith("neuron.") else "-")
    ax.set_xlabel("T (time steps)")
    ax.set_ylabel("XLA temporary memory (MiB)")
    ax.set_title(f"Seq-MNIST CE-LIF train step, batch {batch}", fontsize=10)
    ax.set_xticks(steps)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, nargs="+", default=[98, 196, 392, 784])
    parser.add_argument("--batch", type=int, default=memory.SEQ_BATCH)
    parser.add_argument("--out", default="docs/remat_memory.png")
    args = parser.parse_args(argv)
    plot(args.T, points(args.T, args.batch), args.batch, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
