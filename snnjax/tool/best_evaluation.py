"""The one rule that picks a run's best evaluation, used by the trainer and by every report.

An evaluation is better than the best so far when its figure is better, or **equal**: a tie goes to
the *later* evaluation (the one that trained longer). ``train.py``'s ``summary.json``
(``best_validation_*``, ``test_*_at_best_validation``) and ``snnjax.reproduce``'s tables both
follow it, so a table row always equals the ``summary.json`` it comes from.

A NaN never wins (a NaN figure is skipped); with only NaNs there is no best evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

TIE_RULE = "a tie of the best figure goes to the later evaluation"


def improves(value: float, best_so_far: float | None, higher_is_better: bool) -> bool:
    """Whether ``value`` becomes the new best over ``best_so_far`` (None: no best yet); ties win."""
    if value is None or math.isnan(value):
        return False
    if best_so_far is None or math.isnan(best_so_far):
        return True
    return value >= best_so_far if higher_is_better else value <= best_so_far


def best_index(values: Sequence[float], higher_is_better: bool) -> int | None:
    """The index of the best of ``values`` in evaluation order, by :func:`improves`; None when
    every value is NaN (or there is none)."""
    best: int | None = None
    for i, value in enumerate(values):
        if improves(float(value), None if best is None else float(values[best]), higher_is_better):
            best = i
    return best


def is_tie(values: Sequence[float], higher_is_better: bool) -> bool:
    """Whether the best figure of ``values`` occurs at more than one evaluation (the rule decided)."""
    i = best_index(values, higher_is_better)
    return i is not None and sum(1 for v in values if float(v) == float(values[i])) > 1
