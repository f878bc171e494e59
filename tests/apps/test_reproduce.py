"""``snnjax.reproduce``: the plans' commands are valid configs, a run directory reads back into the
right numbers, and the command runs a tiny plan end to end into a table, artifacts and a figure."""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from cpu_env import cpu_env

from snnjax.tool import validate
from snnjax.reproduce import plans, results, table
from snnjax.tool.run_directory import RunDirectory

REPO = Path(__file__).resolve().parents[2]
ALL = [e for plan in plans.PLANS.values() for e in plan]


def _config_with_overrides(experiment: plans.Experiment):
    path, _, arg = experiment.config.partition(":")
    module = importlib.import_module(Path(path).with_suffix("").as_posix().replace("/", "."))
    config = module.get_config(arg or None)
    for key, value in plans.overrides_for(experiment, "/data").items():
        *sections, name = key.split(".")
        node = config
        for section in sections:
            node = node[section]
        assert name in node, f"{experiment.name}: unknown override {key}"
        with config.unlocked():
            node[name] = value
    return config


@pytest.mark.parametrize("experiment", ALL, ids=lambda e: e.name)
def test_every_planned_run_is_a_valid_config(experiment):
    config = _config_with_overrides(experiment)
    validate.check_config(config, 1)
    assert config.data.val_fraction == (plans.VAL_FRACTION if "data.val_fraction" in experiment.overrides else 0.0)
    if experiment.needs_data:
        assert config.data.data_dir == "/data"


def test_the_bpsa_pair_trains_at_equal_steps_and_batch():
    """BPSA + BPTA against the surrogate baseline at equal steps: the short runs' comparison."""
    baseline, bpsa = (_config_with_overrides(e) for e in plans.BPSA_CPU if "train.num_steps" in e.overrides)
    assert baseline.train.num_steps == bpsa.train.num_steps == plans.BPSA_SHORT_STEPS
    assert baseline.train.batch_size == bpsa.train.batch_size
    assert baseline.model.to_dict() != bpsa.model.to_dict()  # and they are two different models


def test_run_names_are_unique_and_every_figure_has_one_metric():
    """A run directory's name means one run: unique within a plan, and a row that two plans share
    (ce_lif_cosine shows ce_lif_longer's constant-rate row) trains the same config the same way."""
    for plan in plans.PLANS.values():
        assert len({e.name for e in plan}) == len(plan)
    runs: dict[str, tuple] = {}
    for e in ALL:
        run = (e.config, e.overrides, e.metric, e.continues, e.needs_data)
        assert runs.setdefault(e.name, run) == run, e.name
    groups: dict[str, set[str]] = {}
    for e in ALL:
        if e.figure:
            groups.setdefault(e.figure, set()).add(e.metric)
    assert all(len(metrics) == 1 for metrics in groups.values()), groups


def test_command_is_what_the_installed_trainer_takes():
    e = plans.get_plan("ce_lif")[0]
    cmd = plans.command(e, "/runs", "/data", python="python")
    assert cmd[:7] == ["python", "-m", "snnjax.train", "--config", "ce_lif_seq_mnist:152", "--workdir", "/runs/" + e.name]
    assert plans.config_name("configs/smoke.py") == "smoke"
    assert "--config.data.data_dir=/data" in cmd and "--config.train.num_epochs=10" in cmd


def test_copy_memory_baseline_is_ten_ln8_over_the_length():
    copy100 = next(e for e in ALL if e.name == "copy_memory_ce_lif_100")
    assert copy100.baseline == pytest.approx(10 * math.log(8) / 120)


def test_unknown_plan_and_experiment_names_are_refused():
    with pytest.raises(KeyError, match="known plans"):
        plans.get_plan("cifar")
    with pytest.raises(KeyError, match="this plan has"):
        plans.select(plans.get_plan("ce_lif"), ["seq_mnist_ce_lif_999"])


def _write_run(workdir: Path, evals: list[tuple[int, float, float]], finished: bool, torn: bool = False,
               exist_ok: bool = False):
    workdir.mkdir(parents=True, exist_ok=exist_ok)
    (workdir / "config.json").write_text(json.dumps({"train": {"seed": 3}}))
    lines = [json.dumps({"step": 10, "train/loss": 2.0})]
    for i, (step, val, test) in enumerate(evals):
        lines.append(json.dumps({"step": step, "epoch": i + 1, "validation/accuracy": val, "test/accuracy": test}))
    text = "\n".join(lines) + "\n" + ('{"step": 99, "train/lo' if torn else "")
    (workdir / "metrics.jsonl").write_text(text)
    if finished:
        (workdir / "summary.json").write_text(json.dumps({"wall_time_s": 120.0}))


def test_result_takes_the_test_figure_at_the_best_validation_evaluation(tmp_path):
    e = plans.Experiment(name="r", config="c", overrides={}, metric="accuracy", label="r", paper="p")
    # the test accuracy is highest at step 300, but validation picks step 200
    _write_run(tmp_path / "r", [(100, 0.5, 0.51), (200, 0.9, 0.88), (300, 0.8, 0.95)], finished=True, torn=True)
    r = results.read_result(e, tmp_path)
    assert (r.status, r.step, r.epoch, r.seed) == ("finished", 300, 3, 3)
    assert (r.best_step, r.best_validation, r.test_at_best_validation, r.final_test) == (200, 0.9, 0.88, 0.95)
    assert r.wall_time_s == 120.0
    assert list(r.train["train/loss"][0]) == [10]  # the torn last line is dropped


def test_lower_is_better_metrics_pick_the_minimum(tmp_path):
    e = plans.Experiment(name="r", config="c", overrides={}, metric="mse", label="r", paper="p")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text("{}")
    rows = [{"step": s, "epoch": i + 1, "validation/mse": v, "test/mse": t}
            for i, (s, v, t) in enumerate([(1, 0.3, 0.31), (2, "nan", 0.01), (3, 0.1, 0.12), (4, 0.2, 0.05)])]
    (tmp_path / "r" / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    r = results.read_result(e, tmp_path)
    assert (r.status, r.best_step, r.test_at_best_validation) == ("running", 3, 0.12)  # NaN never wins


def test_missing_and_not_yet_evaluated_runs(tmp_path):
    e = plans.Experiment(name="r", config="c", overrides={}, metric="accuracy", label="r", paper="p")
    assert results.read_result(e, tmp_path).status == "missing"
    _write_run(tmp_path / "r", [], finished=False)
    assert results.read_result(e, tmp_path).status == "started"


def test_update_markdown_replaces_only_its_own_section(tmp_path):
    path = tmp_path / "results.md"
    path.write_text("# Results\n\nhand-written prose\n")
    table.update_markdown(path, "a", "first")
    table.update_markdown(path, "b", "other")
    table.update_markdown(path, "a", "second")
    text = path.read_text()
    assert text.startswith("# Results\n\nhand-written prose\n")
    assert "second" in text and "first" not in text and "other" in text
    assert text.count("<!-- reproduce:a:begin -->") == 1


def test_format_value():
    assert table.format_value(0.98841, "accuracy") == "98.84 %"
    assert table.format_value(0.0123456, "mse") == "0.01235"
    assert table.format_value(None, "loss") == "—"


def _reproduce(args: list[str], timeout: int) -> subprocess.CompletedProcess:
    """``python -m snnjax.reproduce ARGS`` on one CPU device, as a user runs it (conftest's 4 fake
    devices would double its training time)."""
    return subprocess.run([sys.executable, "-m", "snnjax.reproduce", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=cpu_env(1))


@pytest.mark.slow
def test_the_command_runs_a_plan_and_writes_table_artifacts_and_figure(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "docs" / "results"
    cmd = ["smoke", "--runs_dir", str(runs), "--out", str(out)]
    proc = _reproduce(cmd, 600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    name = plans.get_plan("smoke")[0].name
    for artifact in ("config.json", "summary.json", "metrics.jsonl", "provenance.jsonl"):
        assert (out / name / artifact).exists(), artifact
    assert (out / "smoke_adding.png").stat().st_size > 0
    summary = json.loads((runs / name / "summary.json").read_text())
    md = (tmp_path / "docs" / "results.md").read_text()
    row = next(line for line in md.splitlines() if f"`{name}`" in line)
    # the table's figure is the summary's test MSE at the best validation evaluation
    assert table.format_value(summary["test_mse_at_best_validation"], "mse") in row
    assert "finished" in row
    provenance = [json.loads(line) for line in (runs / name / "provenance.jsonl").read_text().splitlines()]
    assert len(provenance) == 1 and len(provenance[0]["commit"].split("+")[0]) in (7, 40, len("unknown"))
    # the plan's second run continued the first from its last checkpoint: the first's records, then more
    longer = plans.get_plan("smoke")[1]
    assert longer.continues == name
    first = [json.loads(line) for line in (runs / name / "metrics.jsonl").read_text().splitlines()]
    continued = [json.loads(line) for line in (runs / longer.name / "metrics.jsonl").read_text().splitlines()]
    assert continued[:len(first)] == first and max(r["step"] for r in continued) == 250
    assert json.loads((runs / longer.name / "summary.json").read_text())["steps"] == 250
    history = [json.loads(line) for line in (runs / longer.name / "config_history.jsonl").read_text().splitlines()]
    assert history[-1]["from_step"] == 200 and any("train.num_steps" in c for c in history[-1]["changes"])
    assert len((runs / longer.name / "provenance.jsonl").read_text().splitlines()) == 2  # its base's sitting + its own
    assert f"`{longer.name}`" in md
    # --report_only reads the same directories again and neither trains nor adds a sitting
    proc = _reproduce(cmd + ["--report_only"], 300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len((runs / name / "provenance.jsonl").read_text().splitlines()) == 1
    # running the plan again skips its finished runs: no new sitting, no new evaluation
    metrics = (runs / name / "metrics.jsonl").read_text()
    proc = _reproduce(cmd, 300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"[reproduce] {name}: finished" in proc.stderr
    assert len((runs / name / "provenance.jsonl").read_text().splitlines()) == 1
    assert (runs / name / "metrics.jsonl").read_text() == metrics


CONTINUATIONS = [e for e in ALL if e.continues]


@pytest.mark.parametrize("experiment", CONTINUATIONS, ids=lambda e: e.name)
def test_a_continuation_is_its_base_run_trained_longer(experiment):
    """Same config and overrides as the run it continues but for a longer length, and a constant
    learning rate: resuming the base run to this length is then the same as training it from scratch."""
    from snnjax.reproduce.__main__ import LENGTH_KEYS

    base = next(e for e in ALL if e.name == experiment.continues)
    assert base.config == experiment.config and base.metric == experiment.metric
    same = lambda e: {k: v for k, v in e.overrides.items() if k not in LENGTH_KEYS}  # noqa: E731
    assert same(base) == same(experiment)
    (key,) = [k for k in LENGTH_KEYS if k in experiment.overrides]
    assert experiment.overrides[key] > _config_with_overrides(base)[key.split(".")[0]][key.split(".")[1]]
    config = _config_with_overrides(experiment)
    assert config.optim.schedule == "constant" and not config.optim.get("warmup_epochs", 0)


def test_a_continuation_copies_its_finished_base_run_once(tmp_path):
    from snnjax.reproduce.__main__ import start_continuation

    base = tmp_path / "base"
    (base / "checkpoints" / "200").mkdir(parents=True)
    for name in ("config.json", "metrics.jsonl", "provenance.jsonl", ".lock", "checkpoints/200/state"):
        (base / name).write_text(name)
    experiment = plans.Experiment("longer", "configs/smoke.py", {"train.num_steps": 300}, "accuracy", "l", "p",
                                  continues="base")
    assert not start_continuation(experiment, tmp_path)  # the base has no summary yet: nothing copied
    assert not (tmp_path / "longer").exists()
    (base / "summary.json").write_text("{}")
    assert start_continuation(experiment, tmp_path)
    copied = {p.relative_to(tmp_path / "longer").as_posix() for p in (tmp_path / "longer").rglob("*") if p.is_file()}
    assert copied == {"config.json", "metrics.jsonl", "provenance.jsonl", "checkpoints/200/state"}
    (tmp_path / "longer" / "metrics.jsonl").write_text("resumed")
    assert start_continuation(experiment, tmp_path)  # started already: left as it is
    assert (tmp_path / "longer" / "metrics.jsonl").read_text() == "resumed"


def test_a_run_is_finished_only_at_the_length_its_plan_asks_for(tmp_path):
    from snnjax.reproduce.__main__ import is_finished

    experiment = plans.Experiment("r", "configs/smoke.py", {"train.num_epochs": 10}, "accuracy", "r", "p")
    assert not is_finished(experiment, tmp_path)  # no summary yet
    (tmp_path / "summary.json").write_text(json.dumps({"config": {"train": {"num_epochs": 10}}}))
    assert is_finished(experiment, tmp_path)
    longer = plans.Experiment("r", "configs/smoke.py", {"train.num_epochs": 20}, "accuracy", "r", "p")
    assert not is_finished(longer, tmp_path)  # lengthened since: it resumes


def _finished_artifacts(folder: Path, num_epochs: int) -> None:
    """What ``write_report`` checks in under ``--out/<name>``, for a finished run of ``num_epochs``."""
    _write_run(folder, [(100, 0.5, 0.51), (200, 0.9, 0.88)], finished=True)
    (folder / "summary.json").write_text(json.dumps({"wall_time_s": 120.0,
                                                     "config": {"train": {"num_epochs": num_epochs}}}))


def test_a_run_lost_with_its_machine_keeps_its_checked_in_result(tmp_path, capsys, monkeypatch):
    """The run directories are gone (a new machine), the finished results checked in under --out
    are not: the plan neither retrains them nor drops them from the table, and keeps their figures;
    a continuation of one trains from step 0 in its own directory and says so in its provenance."""
    from snnjax.reproduce import __main__ as reproduce
    from snnjax.reproduce.__main__ import is_finished, run_experiment, write_report

    runs, out = tmp_path / "runs", tmp_path / "docs" / "results"
    runs.mkdir()
    done = plans.Experiment("done", "configs/smoke.py", {"train.num_epochs": 10}, "accuracy", "done", "p",
                            figure="fig")
    longer = plans.Experiment("longer", "configs/smoke.py", {"train.num_epochs": 20}, "accuracy", "longer", "p",
                              continues="done")
    _finished_artifacts(out / "done", num_epochs=10)
    (out / "done" / "te_similarity.png").write_bytes(b"drawn from the lost checkpoint")
    launched = []
    monkeypatch.setattr(reproduce.plans, "command", lambda e, *_: launched.append(e.name) or [sys.executable, "-c", ""])
    assert run_experiment(done, runs, None, 0, out) == 0
    assert run_experiment(longer, runs, None, 0, out) == 0
    err = capsys.readouterr().err
    assert "done: finished (its result is checked in at" in err
    assert "longer: done's run directory, with its checkpoints, is gone" in err and "trains from step 0" in err
    assert launched == ["longer"] and not (runs / "done").exists()  # the base is not retrained under its name
    provenance = RunDirectory(runs / "longer").read_provenance()
    assert [p.get(results.RETRAINS) for p in provenance] == ["done"]
    assert not (runs / "longer" / "checkpoints").exists()  # nothing copied: it starts from step 0
    # a plan lengthened since the result was checked in trains it again (it cannot resume)
    lengthened = plans.Experiment("done", "configs/smoke.py", {"train.num_epochs": 20}, "accuracy", "done", "p")
    assert not is_finished(lengthened, out / "done") and is_finished(done, out / "done")

    written = write_report("p", [done, longer], runs, out, tmp_path / "docs" / "results.md")
    md = (tmp_path / "docs" / "results.md").read_text()
    row = next(line for line in md.splitlines() if "`done`" in line)
    assert "88.00 %" in row and "finished" in row  # the test figure at the best validation evaluation
    assert out / "done" / "te_similarity.png" in written and "te_similarity" in md
    assert (out / "done" / "te_similarity.png").read_bytes() == b"drawn from the lost checkpoint"
    assert (out / "done" / "metrics.jsonl").exists() and (out / "fig.png").exists()
    assert "`longer` trains from step 0" not in md  # it has written no config yet: a missing row


@pytest.mark.parametrize("second_test, verdict", [
    (0.88, "its evaluated figures are equal to the checked-in ones."),
    (0.8825, "its evaluated figures differ from the checked-in ones (largest absolute difference): "
             "`test/accuracy` within 0.0025, every other evaluated figure equal."),
])
def test_a_retrained_continuation_is_compared_with_its_checked_in_base(tmp_path, second_test, verdict):
    """The report says at how many of the base's evaluation steps the retrained run repeats it, and
    how closely."""
    from snnjax.reproduce.__main__ import write_report

    runs, out = tmp_path / "runs", tmp_path / "out"
    longer = plans.Experiment("longer", "configs/smoke.py", {"train.num_epochs": 3}, "accuracy", "longer", "p",
                              continues="done")
    _finished_artifacts(out / "done", num_epochs=2)  # evaluations (100, 0.5, 0.51), (200, 0.9, 0.88)
    _write_run(runs / "longer", [(100, 0.5, 0.51)], finished=False)
    (runs / "longer" / results.PROVENANCE).write_text(json.dumps({"commit": "abc", results.RETRAINS: "done"}) + "\n")
    write_report("p", [longer], runs, out, tmp_path / "results.md")  # the base is another plan's row
    assert "trains from step 0" not in (tmp_path / "results.md").read_text()  # still going: not reported yet

    (runs / "longer" / "metrics.jsonl").unlink()
    _write_run(runs / "longer", [(100, 0.5, 0.51), (200, 0.9, second_test), (300, 0.95, 0.93)], finished=True,
               exist_ok=True)
    write_report("p", [longer], runs, out, tmp_path / "results.md")
    assert f"at 2 of `done`'s 2 evaluation steps {verdict}" in (
        tmp_path / "results.md").read_text()


def test_an_unfinished_checked_in_run_is_not_reported_as_running(tmp_path):
    """A checked-in partial run whose directory is gone is not running anywhere: the row is missing."""
    from snnjax.reproduce.__main__ import write_report

    e = plans.Experiment("partial", "configs/smoke.py", {}, "accuracy", "partial", "p")
    _write_run(tmp_path / "out" / "partial", [(100, 0.5, 0.51)], finished=False)
    (tmp_path / "runs").mkdir()
    write_report("p", [e], tmp_path / "runs", tmp_path / "out", tmp_path / "results.md")
    row = next(line for line in (tmp_path / "results.md").read_text().splitlines() if "`partial`" in line)
    assert "running" not in row and "51.00 %" not in row


def test_provenance_names_the_commit_in_a_checkout_and_the_version_outside(tmp_path, monkeypatch):
    import snnjax
    from snnjax.reproduce.__main__ import git_commit

    assert len(git_commit().split("+")[0]) == 40  # this checkout's HEAD
    (tmp_path / "snnjax").mkdir()
    monkeypatch.setattr(snnjax, "__file__", str(tmp_path / "snnjax" / "__init__.py"))  # a wheel outside git
    assert git_commit() == f"snnjax {snnjax.__version__}"


def test_a_run_still_going_is_left_out_of_the_report_until_it_finishes(tmp_path, capsys):
    """The report is a function of the finished runs alone: a running run's artifacts are not copied
    and its row reads missing, so the docs regenerate from the checked-in artifacts."""
    from snnjax.reproduce.__main__ import write_report

    e = plans.Experiment("going", "configs/smoke.py", {}, "accuracy", "going", "p")
    _write_run(tmp_path / "runs" / "going", [(100, 0.5, 0.51)], finished=False)
    write_report("p", [e], tmp_path / "runs", tmp_path / "out", tmp_path / "results.md")
    row = next(line for line in (tmp_path / "results.md").read_text().splitlines() if "`going`" in line)
    assert "| missing |" in row and "51.00 %" not in row
    assert not (tmp_path / "out" / "going").exists()
    assert "going: running" in capsys.readouterr().err
