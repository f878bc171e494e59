"""A paper's claims tested over seeds: each arm's mean ± std, the difference, its standard error, a verdict.

A :class:`Claim` says that a weighted sum of arms' means is positive, e.g. "the full model beats the
model without LLC-LIF": ``full − no_llc_lif > 0``; "the gap grows as T shrinks": ``(bb4 − b4) −
(bb16 − b16) > 0``. Over the finished seeds of each arm, with mean :math:`m_i`, sample standard
deviation :math:`s_i` and :math:`n_i` seeds,

.. math::
    d = \\sum_i c_i m_i, \\qquad \\mathrm{SE}(d) = \\sqrt{\\sum_i c_i^2 s_i^2 / n_i},

and the verdict is **supported** when :math:`d > 2\\,\\mathrm{SE}`, **contradicted** when
:math:`d < -2\\,\\mathrm{SE}`, **not resolved** otherwise (issue 30's protocol). An arm with fewer than
two finished seeds has no standard deviation: the claim is then not resolved. So is a claim whose
standard error is 0 (every arm's seeds gave the same figure: with two seeds and a test figure
counted in whole examples that happens by chance, and says nothing of the seed noise). A claim whose
arms are not all finished says how many runs are (its verdict is over the finished ones only, and
marked incomplete).

Every figure is read from the runs' ``summary.json`` (:data:`METRICS`), never from a table.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

SUPPORTED, CONTRADICTED, NOT_RESOLVED = "supported", "contradicted", "not resolved"


def _mean_firing_rate(summary: Mapping[str, Any]) -> float | None:
    rates = summary.get("firing_rates") or {}
    return float(sum(rates.values()) / len(rates)) if rates else None


# What a claim can compare, each read from one run's summary.json.
METRICS: dict[str, tuple[str, Callable[[Mapping[str, Any]], float | None]]] = {
    "test_accuracy_at_best_validation": (
        "test accuracy at the best validation evaluation", lambda s: s.get("test_accuracy_at_best_validation")),
    "final_test_accuracy": ("test accuracy at the last evaluation", lambda s: s.get("final_test_accuracy")),
    "mean_firing_rate": ("firing rate, mean over the spiking layers (unweighted), test set",
                         _mean_firing_rate),
    "energy_ratio": ("energy efficiency E_ANN / E_SNN (the bpsa paper's estimate)",
                     lambda s: (s.get("energy") or {}).get("ratio")),
}


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of a paper, as a signed sum of arms that the paper says is positive.

    Attributes:
        name: a short identifier (``llc_lif_helps``).
        paper: ``llc_lif``, ``bpsa`` or ``ce_lif``.
        text: the claim in words, in the paper's direction.
        paper_figures: what the paper reports for it, in words.
        metric: a key of :data:`METRICS`.
        terms: ``((arm, coefficient), ...)``: the claim is ``Σ coefficient · mean(arm) > 0``.
    """

    name: str
    paper: str
    text: str
    paper_figures: str
    metric: str
    terms: tuple[tuple[str, float], ...]


def arm_stats(values: Sequence[float]) -> dict[str, Any]:
    """``{"n", "mean", "std"}`` of one arm's figures (``std`` the sample standard deviation, None
    below two values; ``mean`` None with none)."""
    n = len(values)
    mean = sum(values) / n if n else None
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n >= 2 else None
    return {"n": n, "mean": mean, "std": std}


def verdict(difference: float | None, standard_error: float | None) -> str:
    """:data:`SUPPORTED` beyond two standard errors in the claim's direction, :data:`CONTRADICTED`
    beyond two the other way, else :data:`NOT_RESOLVED` (also when either is unknown, or the
    standard error is 0: no spread measured, so no noise to compare with)."""
    if difference is None or standard_error is None or standard_error <= 0:
        return NOT_RESOLVED
    if difference > 2 * standard_error:
        return SUPPORTED
    if difference < -2 * standard_error:
        return CONTRADICTED
    return NOT_RESOLVED


def evaluate_claim(claim: Claim, arm_runs: Mapping[str, Sequence[str]],
                   summaries: Mapping[str, Mapping[str, Any] | None], runs_root: str = "") -> dict[str, Any]:
    """The claim's record for ``claims.json``.

    Args:
        claim: the claim.
        arm_runs: each arm's run names (one per seed).
        summaries: each run's parsed ``summary.json``, or None while it is not finished.
        runs_root: the folder (relative to the docs) under which each run's artifacts are listed.
    """
    read = METRICS[claim.metric][1]
    arms, total, finished = {}, 0, 0
    for arm, _ in claim.terms:
        names = list(arm_runs[arm])
        values = {n: read(summaries[n]) for n in names if summaries.get(n) is not None}
        values = {n: float(v) for n, v in values.items() if v is not None}
        total, finished = total + len(names), finished + len(values)
        arms[arm] = {"runs": [f"{runs_root}{n}" for n in names], "values": values, **arm_stats(list(values.values()))}
    means_known = all(a["mean"] is not None for a in arms.values())
    difference = sum(c * arms[a]["mean"] for a, c in claim.terms) if means_known else None
    stds_known = all(a["std"] is not None for a in arms.values())
    se = math.sqrt(sum(c * c * arms[a]["std"] ** 2 / arms[a]["n"] for a, c in claim.terms)) if stds_known else None
    return {"name": claim.name, "text": claim.text, "paper_figures": claim.paper_figures, "metric": claim.metric,
            "metric_description": METRICS[claim.metric][0], "terms": [[a, c] for a, c in claim.terms],
            "arms": arms, "difference": difference, "standard_error": se, "verdict": verdict(difference, se),
            "runs_finished": finished, "runs_planned": total, "complete": finished == total}


def read_summaries(names: Sequence[str], folders: Sequence[Path]) -> dict[str, dict[str, Any] | None]:
    """Each run's ``summary.json`` from the first of ``folders`` that has it, else None."""
    from snnjax.tool.run_directory import RunDirectory  # the one place that names the run's files

    found: dict[str, dict[str, Any] | None] = {}
    for name in names:
        run = next((RunDirectory(f / name) for f in folders if RunDirectory(f / name).has_summary()), None)
        found[name] = run.read_summary() if run is not None else None
    return found


def update_claims_json(path: Path, paper: str, records: Sequence[Mapping[str, Any]],
                       papers: Sequence[str] = ("llc_lif", "bpsa", "ce_lif")) -> None:
    """Writes ``records`` as ``paper``'s list in ``path`` (``{paper: [claim, ...]}``), keeping the
    other papers' lists; every paper of ``papers`` has a list."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data[paper] = list(records)
    for p in papers:
        data.setdefault(p, [])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def _pm(stats: Mapping[str, Any], scale: float, digits: int) -> str:
    if stats["mean"] is None:
        return "—"
    std = "" if stats["std"] is None else f" ± {scale * stats['std']:.{digits}f}"
    return f"{scale * stats['mean']:.{digits}f}{std} (n={stats['n']})"


def _format_terms(terms: Sequence[Sequence[Any]]) -> str:
    parts = []
    for i, (arm, c) in enumerate(terms):
        sign = "−" if c < 0 else ("+" if i else "")
        mag = "" if abs(c) == 1 else f"{abs(c):g}·"
        parts.append(f"{sign} {mag}`{arm}`".strip())
    return " ".join(parts)


def markdown(records: Sequence[Mapping[str, Any]]) -> str:
    """The claims table: per claim the paper's figures, each arm's mean ± std over its seeds, the
    difference ± its standard error, and the verdict (marked when runs are unfinished)."""
    lines = ["| claim | paper | metric | arms: mean ± std over seeds | difference ± SE | verdict |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in records:
        accuracy = "accuracy" in r["metric"]
        scale, digits, unit = (100.0, 2, " points") if accuracy else (1.0, 4, "")
        arms = "; ".join(f"`{a}` {_pm(s, scale, digits)}" for a, s in r["arms"].items())
        if r["difference"] is None:
            diff = "—"
        else:
            se = "" if r["standard_error"] is None else f" ± {scale * r['standard_error']:.{digits}f}"
            diff = f"{scale * r['difference']:+.{digits}f}{se}{unit}"
        v = r["verdict"] if r["complete"] else f"{r['verdict']} ({r['runs_finished']} of {r['runs_planned']} runs finished)"
        lines.append(f"| {r['text']} ({_format_terms(r['terms'])} > 0) | {r['paper_figures']} | {r['metric_description']} "
                     f"| {arms} | {diff} | {v} |")
    return "\n".join(lines)
