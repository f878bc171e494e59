"""Evaluating a checkpoint: load a run directory written by ``train.py`` and score its test set.

    python train.py --config configs/smoke.py --workdir runs/smoke
    python examples/evaluate_checkpoint.py runs/smoke           # the latest checkpoint
    python examples/evaluate_checkpoint.py runs/smoke --best    # the best one (summary.json's best_checkpoint)

``snnjax.run_dir.load_run`` gives the run's config, dataset, model and trained variables; the rest
is one jitted ``model.apply`` in eval mode (running BatchNorm statistics, no dropout).
"""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.run_dir import load_run


def best_step(workdir: str) -> int:
    """The step of the run's best checkpoint (by validation accuracy, or test without validation)."""
    summary = json.loads((Path(workdir) / "summary.json").read_text())
    return summary["best_checkpoint"]["step"]


def main(workdir: str, batch_size: int = 250, step: int | None = None) -> dict:
    run = load_run(workdir, step=step)
    predict = jax.jit(lambda x: run.model.apply(run.variables, x, train=False, rngs={"encoder": jax.random.PRNGKey(0)}).prediction())
    test = run.dataset.test
    correct = 0
    for start in range(0, test.num_examples, batch_size):
        x, y = test.get(np.arange(start, min(start + batch_size, test.num_examples)))
        correct += int(np.sum(np.asarray(predict(jnp.asarray(x))).argmax(-1) == y))
    accuracy = correct / test.num_examples
    print(f"{workdir}: step {run.step}, test accuracy {100 * accuracy:.2f}% on {test.num_examples} examples")
    return {"step": run.step, "test_accuracy": accuracy}


if __name__ == "__main__":
    best = "--best" in sys.argv[2:]
    print(json.dumps(main(sys.argv[1], step=best_step(sys.argv[1]) if best else None)))
