"""Evaluating a checkpoint: load a run directory written by ``train.py`` and score its test set.

    python train.py --config configs/smoke.py --workdir runs/smoke
    python examples/evaluate_checkpoint.py runs/smoke           # the latest checkpoint
    python examples/evaluate_checkpoint.py runs/smoke --best    # the best one (summary.json's best_checkpoint)

``snnjax.tool.run_dir.load_run`` gives the run's config, dataset, model and trained variables; the rest
is one jitted ``model.apply`` in eval mode (running BatchNorm statistics, no dropout).
"""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.tool.run_dir import load_run
from snnjax.tool.run_directory import RunDirectory


USAGE = ("usage: python examples/evaluate_checkpoint.py RUN_DIR [--best]  (RUN_DIR: the --workdir of a "
         "train.py run; --best: its best checkpoint instead of the latest)")


class UsageError(Exception):
    """A wrong command line or a folder that is not a usable run: one line says what to give."""


def best_step(workdir: str) -> int:
    """The step of the run's best checkpoint (by validation accuracy, or test without validation).

    Raises:
        UsageError: no ``summary.json`` (the run has not finished) or no best checkpoint in it.
    """
    run_directory = RunDirectory(workdir)
    path, summary = run_directory.summary_path, run_directory.read_summary()
    if summary is None:
        raise UsageError(f"{path} not found: --best reads the best checkpoint from a finished run's summary; "
                         f"leave --best out to evaluate the latest checkpoint of {workdir}")
    try:
        return int(summary["best_checkpoint"]["step"])
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{path} names no best checkpoint ({type(error).__name__}: {error}); leave --best out "
                         "to evaluate the latest checkpoint") from None


def main(workdir: str, batch_size: int = 250, step: int | None = None) -> dict:
    """Scores the test set of ``workdir``'s checkpoint ``step`` (None: the latest readable one)."""
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


def parse_args(argv: list[str]) -> tuple[str, bool]:
    """``(run directory, best)`` from the command line (program name excluded).

    Raises:
        UsageError: no run directory, more than one, an unknown option, or a folder that is not a run.
    """
    folders = [a for a in argv if not a.startswith("--")]
    unknown = [a for a in argv if a.startswith("--") and a != "--best"]
    if unknown:
        raise UsageError(f"unknown option(s) {unknown}; {USAGE}")
    if len(folders) != 1:
        raise UsageError(f"{'no run directory given' if not folders else f'one run directory, got {folders}'}; {USAGE}")
    workdir = folders[0]
    if not Path(workdir).is_dir():
        raise UsageError(f"{workdir} is not a folder; {USAGE}")
    if not RunDirectory(workdir).has_config():
        raise UsageError(f"{workdir} holds no {RunDirectory.CONFIG}: it is not a run directory written by train.py "
                         "(or the run has not started); give the --workdir of a train.py run")
    return workdir, "--best" in argv


def cli(argv: list[str]) -> None:
    """The command line: prints the result as a JSON line, or exits with one line saying what to do."""
    from snnjax.tool.checkpointing import CheckpointError

    try:
        workdir, best = parse_args(argv)
        result = main(workdir, step=best_step(workdir) if best else None)
    except UsageError as error:
        sys.exit(f"error: {error}")
    except (FileNotFoundError, CheckpointError) as error:  # no checkpoint yet, none readable, data missing
        sys.exit(f"error: {error}")
    print(json.dumps(result))


if __name__ == "__main__":
    cli(sys.argv[1:])
