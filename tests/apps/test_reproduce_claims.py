"""Seeds, arms and claims of ``snnjax.reproduce`` (issue 30), and the one best-evaluation rule."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from snnjax.tool import best_evaluation
from snnjax.reproduce import claims, plans, table
from snnjax.reproduce.results import RunResult, read_result


# --- the best-evaluation rule --------------------------------------------------------------------

def test_a_tie_goes_to_the_later_evaluation():
    assert best_evaluation.best_index([0.5, 0.9, 0.7, 0.9], higher_is_better=True) == 3
    assert best_evaluation.best_index([0.5, 0.1, 0.7, 0.1], higher_is_better=False) == 3
    assert best_evaluation.is_tie([0.5, 0.9, 0.7, 0.9], True)
    assert not best_evaluation.is_tie([0.5, 0.9, 0.7, 0.8], True)


def test_nan_never_wins():
    assert best_evaluation.best_index([math.nan, 0.2, math.nan], True) == 1
    assert best_evaluation.best_index([math.nan, math.nan], True) is None
    assert best_evaluation.best_index([], False) is None
    assert not best_evaluation.improves(math.nan, 0.1, True)
    assert best_evaluation.improves(0.1, None, True)


def _write_run(workdir, val, test, summary=None, seed=0):
    workdir.mkdir(parents=True)
    (workdir / "config.json").write_text(json.dumps({"train": {"seed": seed}}))
    lines = [json.dumps({"step": 10 * (i + 1), "epoch": i + 1, "validation/accuracy": v, "test/accuracy": t})
             for i, (v, t) in enumerate(zip(val, test))]
    (workdir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if summary is not None:
        (workdir / "summary.json").write_text(json.dumps(summary))


def test_the_report_breaks_a_tie_as_the_trainer_does(tmp_path):
    e = plans.Experiment(name="r", config="c", overrides={}, metric="accuracy", label="r", paper="p")
    _write_run(tmp_path / "r", val=[0.90, 0.95, 0.93, 0.95], test=[0.89, 0.97, 0.92, 0.94], summary={})
    r = read_result(e, tmp_path)
    assert (r.best_step, r.test_at_best_validation, r.best_was_tie) == (40, 0.94, True)
    assert "94.00 % (40, tie)" in table.markdown_table([(e, r)])


# --- arms and seeds ------------------------------------------------------------------------------

def test_an_arm_expands_into_one_run_per_seed_seed_by_seed():
    arms = plans.LLC_LIF_CLAIMS
    runs = plans.runs_of(arms)
    assert len(runs) == len(arms) * len(plans.CLAIM_SEEDS)
    assert [r.name for r in runs[:len(arms)]] == [f"{a.name}_seed0" for a in arms]  # every arm's seed 0 first
    for r in runs:
        arm = next(a for a in arms if a.name == r.arm)
        seed = r.overrides["train.seed"]
        assert r.name == f"{arm.name}_seed{seed}" and not r.seeds
        assert {k: v for k, v in r.overrides.items() if k != "train.seed"} == dict(arm.overrides)


def test_an_experiment_without_seeds_is_one_run():
    e = plans.get_plan("ce_lif")[0]
    assert plans.runs_of([e]) == (e,)


def test_the_claim_plans_are_fixed_as_issue_30_describes():
    llc = {a.name: a for a in plans.LLC_LIF_CLAIMS}
    assert set(llc) == {"fmnist_llc_full", "fmnist_llc_no_llc_lif", "fmnist_llc_no_local", "fmnist_llc_llc_lif_only",
                        "fmnist_llc_plif"}
    assert llc["fmnist_llc_plif"].overrides["model.neuron.kind"] == "plif"
    for a in llc.values():
        assert a.seeds == (0, 1, 2) and a.overrides["model.spec"] == "32c3-p2-32c3-p2-512-dp-100-10"
        assert a.overrides["optim.schedule_per_epoch"] is False and a.overrides["data.val_fraction"] == 0.1
    bpsa = {a.name: a for a in plans.BPSA_CLAIMS}
    assert set(bpsa) == {"fmnist_bpsa_baseline_t16", "fmnist_bpsa_bpsa_t16", "fmnist_bpsa_bpsa_bpta_t16",
                         "fmnist_bpsa_baseline_t4", "fmnist_bpsa_bpsa_bpta_t4"}
    for a in bpsa.values():
        assert a.overrides["optim.warmup_epochs"] == 0.5 and a.overrides["train.num_epochs"] == 4
    for plan, (_, plan_claims) in plans.CLAIMS.items():
        names = {a.name for a in plans.PLANS[plan]}
        assert all(arm in names for c in plan_claims for arm, _ in c.terms)


def test_the_recurrent_baselines_are_ce_lif_claims_with_the_checked_in_row_as_seed_0():
    arms = {a.name: a for a in plans.CE_LIF_RECURRENT_BASELINES}
    assert all(a.seeds == (0, 1, 2) for a in arms.values())
    assert plans.CLAIMS["ce_lif_recurrent_baselines"][0] == "ce_lif"
    ce_lif = [r for r in plans.runs_of([arms["ce_lif_152_10epochs"]])]
    assert [r.name for r in ce_lif] == ["seq_mnist_ce_lif_152", "ce_lif_152_10epochs_seed1", "ce_lif_152_10epochs_seed2"]
    checked_in = plans.get_plan("ce_lif")[0]
    assert {k: v for k, v in ce_lif[0].overrides.items() if k != "train.seed"} == dict(checked_in.overrides)
    assert ce_lif[0].config == checked_in.config


def test_the_warmup_ends_inside_the_run():
    """The last BPSA pair never left its warm-up: every claims run now reaches its peak rate."""
    for arm in plans.BPSA_CLAIMS + plans.LLC_LIF_CLAIMS:
        assert arm.overrides["optim.warmup_epochs"] < arm.overrides["train.num_epochs"] / 4


def test_the_arm_table_gives_mean_std_and_every_seed(tmp_path):
    arm = plans.Experiment(name="a", config="c", overrides={}, metric="accuracy", label="A", paper="p", seeds=(0, 1, 2))
    runs = plans.runs_of([arm])
    results = [RunResult(status="finished", test_at_best_validation=v, final_test=v - 0.01)
               for v in (0.80, 0.82)] + [RunResult(status="running", test_at_best_validation=0.5, final_test=0.5)]
    text = table.arm_table([arm], list(zip(runs, results)))
    assert "81.00 ± 1.41 %" in text  # mean and sample std of the finished seeds only
    assert "s0: 80.00 % / 79.00 %" in text and "s2: 50.00 % / 50.00 % (running)" in text
    assert "| 2 of 3 |" in text


# --- claims --------------------------------------------------------------------------------------

def test_a_zero_standard_error_resolves_nothing():
    """Two seeds per arm that each gave one figure (84.86 % twice, 84.92 % twice, as llc_lif_claims'
    full and PLIF arms did) measure no spread: the difference is not resolved, however small the SE."""
    c = claims.Claim("c", "llc_lif", "a beats b", "p", "test_accuracy_at_best_validation", (("a", 1.0), ("b", -1.0)))
    summaries = {n: {"test_accuracy_at_best_validation": v}
                 for n, v in {"a0": 0.8486, "a1": 0.8486, "b0": 0.8492, "b1": 0.8492}.items()}
    record = claims.evaluate_claim(c, {"a": ["a0", "a1"], "b": ["b0", "b1"]}, summaries)
    assert record["standard_error"] == 0 and record["difference"] < 0
    assert record["verdict"] == claims.NOT_RESOLVED
    assert claims.verdict(-0.001, 0.0) == claims.verdict(0.001, 0.0) == claims.NOT_RESOLVED


def test_standard_error_and_verdicts_by_hand():
    c = claims.Claim("c", "llc_lif", "a beats b", "p", "test_accuracy_at_best_validation", (("a", 1.0), ("b", -1.0)))
    a, b = [0.90, 0.91, 0.92], [0.80, 0.82, 0.84]
    summaries = {f"a{i}": {"test_accuracy_at_best_validation": v} for i, v in enumerate(a)}
    summaries |= {f"b{i}": {"test_accuracy_at_best_validation": v} for i, v in enumerate(b)}
    record = claims.evaluate_claim(c, {"a": ["a0", "a1", "a2"], "b": ["b0", "b1", "b2"]}, summaries)
    se = math.sqrt(np.var(a, ddof=1) / 3 + np.var(b, ddof=1) / 3)
    assert record["difference"] == pytest.approx(np.mean(a) - np.mean(b))
    assert record["standard_error"] == pytest.approx(se)
    assert record["verdict"] == claims.SUPPORTED and record["complete"]
    flipped = claims.evaluate_claim(
        claims.Claim("c", "llc_lif", "b beats a", "p", c.metric, (("b", 1.0), ("a", -1.0))),
        {"a": ["a0", "a1", "a2"], "b": ["b0", "b1", "b2"]}, summaries)
    assert flipped["verdict"] == claims.CONTRADICTED
    assert claims.verdict(0.01, 0.01) == claims.NOT_RESOLVED
    assert claims.verdict(0.0201, 0.01) == claims.SUPPORTED and claims.verdict(-0.0201, 0.01) == claims.CONTRADICTED


def test_a_claim_with_unfinished_runs_says_so():
    c = claims.Claim("c", "bpsa", "a beats b", "p", "final_test_accuracy", (("a", 1.0), ("b", -1.0)))
    summaries = {"a0": {"final_test_accuracy": 0.9}, "a1": None, "b0": {"final_test_accuracy": 0.8}, "b1": None}
    record = claims.evaluate_claim(c, {"a": ["a0", "a1"], "b": ["b0", "b1"]}, summaries)
    assert (record["runs_finished"], record["runs_planned"], record["complete"]) == (2, 4, False)
    assert record["standard_error"] is None and record["verdict"] == claims.NOT_RESOLVED  # one seed: no std
    assert "not resolved (2 of 4 runs finished)" in claims.markdown([record])


def test_firing_rate_and_energy_are_read_from_the_summary():
    summary = {"firing_rates": {"a": 0.1, "b": 0.3}, "energy": {"ratio": 12.5}}
    assert claims.METRICS["mean_firing_rate"][1](summary) == pytest.approx(0.2)
    assert claims.METRICS["energy_ratio"][1](summary) == 12.5


def test_claims_json_keeps_the_other_papers(tmp_path):
    path = tmp_path / "claims.json"
    claims.update_claims_json(path, "bpsa", [{"name": "x"}])
    claims.update_claims_json(path, "llc_lif", [{"name": "y"}])
    data = json.loads(path.read_text())
    assert data == {"bpsa": [{"name": "x"}], "llc_lif": [{"name": "y"}], "ce_lif": []}


def test_write_report_gives_arms_claims_and_seed_bands(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from snnjax.reproduce.__main__ import write_report

    arms = tuple(plans.Experiment(name=n, config="c", overrides={}, metric="accuracy", label=n.upper(), paper="p",
                                  figure="fig", seeds=(0, 1)) for n in ("a", "b"))
    finals = {"a": (0.90, 0.92), "b": (0.80, 0.81)}
    for run in plans.runs_of(arms):
        seed = run.overrides["train.seed"]
        final = finals[run.arm][seed]
        _write_run(tmp_path / "runs" / run.name, val=[0.5, final], test=[0.5, final], seed=seed,
                   summary={"test_accuracy_at_best_validation": final, "final_test_accuracy": final})
    claim = claims.Claim("a_beats_b", "llc_lif", "a beats b", "p", "test_accuracy_at_best_validation",
                         (("a", 1.0), ("b", -1.0)))
    monkeypatch.setitem(plans.CLAIMS, "p", ("llc_lif", (claim,)))
    written = write_report("p", arms, tmp_path / "runs", tmp_path / "out", tmp_path / "results.md")
    text = (tmp_path / "results.md").read_text()
    assert "91.00 ± 1.41 %" in text and "80.50 ± 0.71 %" in text and "| 2 of 2 |" in text
    record = json.loads((tmp_path / "out" / "claims.json").read_text())["llc_lif"][0]
    assert record["verdict"] == claims.SUPPORTED and record["arms"]["a"]["runs"] == ["out/a_seed0", "out/a_seed1"]
    assert (tmp_path / "out" / "fig.png") in written and (tmp_path / "out" / "a_seed1" / "summary.json").exists()


def test_a_seed_that_exists_under_another_name_keeps_it():
    (arm,) = plans.get_plan("ce_lif_seeds")
    names = [r.name for r in plans.runs_of([arm])]
    assert names == ["seq_mnist_ce_lif_152_30epochs", "ce_lif_152_30epochs_seed1", "ce_lif_152_30epochs_seed2"]
    longer = next(e for e in plans.get_plan("ce_lif_longer") if e.name == names[0])
    for run in plans.runs_of([arm]):  # the same config as the checked-in seed-0 row, from step 0
        assert run.continues is None and run.config == longer.config
        assert {k: v for k, v in run.overrides.items() if k != "train.seed"} == dict(longer.overrides)
