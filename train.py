"""Trains an snnjax experiment: the job users run, from a checkout's root.

    python train.py --config configs/smoke.py --workdir runs/smoke
    python train.py --config configs/smoke.py --workdir runs/smoke2 --config.optim.learning_rate=3e-4

The same command as the installed ``snnjax-train`` (``python -m snnjax.train``), which also takes a
packaged config's name (``--config smoke``): rerunning a command with the same ``--workdir`` resumes
the run from its latest checkpoint; on a cluster every process runs this same command. Its flags,
messages and multi-process start-up are :mod:`snnjax.train`'s; the loop is
:func:`snnjax.tool.train_lib.train_and_evaluate`.
"""

from snnjax.tool.train import run

if __name__ == "__main__":
    run()
