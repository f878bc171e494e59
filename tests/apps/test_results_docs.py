"""docs/results.md's generated tables, and docs/results/claims.json, equal what the checked-in
artifacts give: regenerated here from ``docs/results/<run>/`` alone, they must not differ."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from snnjax.reproduce import plans

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _sections(text: str) -> dict[str, str]:
    found = {}
    for plan in plans.PLANS:
        begin, end = f"<!-- reproduce:{plan}:begin -->", f"<!-- reproduce:{plan}:end -->"
        if begin in text:
            found[plan] = text.split(begin, 1)[1].split(end, 1)[0]
    return found


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    from snnjax.reproduce.__main__ import write_report

    tmp = tmp_path_factory.mktemp("docs")
    shutil.copytree(DOCS / "results", tmp / "results")
    shutil.copy(DOCS / "results.md", tmp / "results.md")
    empty_runs = tmp / "runs"  # no run directories: everything is read from the checked-in artifacts
    empty_runs.mkdir()
    for plan in _sections((DOCS / "results.md").read_text()):
        if plan == "smoke":
            continue
        write_report(plan, plans.get_plan(plan), empty_runs, tmp / "results", tmp / "results.md")
    return tmp


def test_every_plan_but_smoke_has_its_section_in_the_docs():
    assert set(_sections((DOCS / "results.md").read_text())) == set(plans.PLANS) - {"smoke"}


def test_the_generated_tables_equal_the_artifacts(regenerated):
    ours, theirs = _sections((regenerated / "results.md").read_text()), _sections((DOCS / "results.md").read_text())
    for plan, text in theirs.items():
        assert ours[plan] == text, f"docs/results.md's {plan} section differs from its artifacts: regenerate it " \
                                   f"(python -m snnjax.reproduce {plan} --runs_dir RUNS --out docs/results --report_only)"


def test_claims_json_equals_the_artifacts(regenerated):
    assert json.loads((regenerated / "results" / "claims.json").read_text()) == \
        json.loads((DOCS / "results" / "claims.json").read_text())


def test_every_table_figure_equals_its_summary():
    """The headline figure of every finished row is its summary.json's (the one tie rule)."""
    from snnjax.reproduce.results import read_result

    for plan in set(plans.PLANS) - {"smoke"}:
        for e in plans.runs_of(plans.get_plan(plan)):
            summary_path = DOCS / "results" / e.name / "summary.json"
            if e.metric != "accuracy" or not summary_path.exists():
                continue
            summary = json.loads(summary_path.read_text())
            result = read_result(e, DOCS / "results")
            if "test_accuracy_at_best_validation" in summary:
                assert result.test_at_best_validation == summary["test_accuracy_at_best_validation"], e.name
            assert result.final_test == summary["final_test_accuracy"], e.name
