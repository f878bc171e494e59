"""Reproducing a paper's experiments: run them, then write their results table and figures.

    python -m snnjax.reproduce ce_lif --data_dir DATA_DIR --runs_dir ~/snnjax-runs --out docs/results

runs (or resumes) every experiment of the plan in turn with ``python -m snnjax.train``, one run directory each
under ``--runs_dir``, then reads the run directories back and writes, under ``--out``, each run's
small artifacts (``config.json``, ``summary.json``, ``metrics.jsonl``, ``provenance.jsonl``), the
learning-curve figures, and the results table into ``docs/results.md`` (between the markers of the
plan's section). ``--report_only`` skips training and only reads what the runs have written so far,
so a table can be refreshed while the runs go on. Runs resume exactly after a kill (``train.py``'s
checkpoints), so a plan may span several sittings.

Parts: :mod:`.plans` (what each experiment runs and what the paper reports), :mod:`.results` (a
run directory read back into numbers), :mod:`.figures` (learning curves), :mod:`.table` (the
markdown), :mod:`.__main__` (the command).
"""

from snnjax.apps.reproduce.plans import PLANS, Experiment, command
from snnjax.apps.reproduce.results import RunResult, read_result

__all__ = ["PLANS", "Experiment", "RunResult", "command", "read_result"]
