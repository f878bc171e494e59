"""``snnjax.tool.run_directory.RunDirectory``: the one class that names a run directory's files and reads
and writes them (issue 29 item 4). Each file round-trips; no other module spells a file name; the
trainer, the report and ``snnjax.reproduce`` read a torn ``metrics.jsonl`` with the same warning;
the best evaluation follows the one rule of ``snnjax.tool.best_evaluation`` (a tie goes to the later)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import jax.numpy as jnp
import ml_collections
import pytest

from snnjax import report
from snnjax.tool import run_files
from snnjax.tool import train_lib as tl
from snnjax.reproduce import plans, results
from snnjax.tool.run_directory import TIE_RULE, RunDirectory

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- each file round-trips


def test_config_round_trips_and_a_missing_or_damaged_one_is_one_line(tmp_path):
    run = RunDirectory(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"config.json not found: is .* a run directory written by train.py"):
        run.read_config()
    config = ml_collections.ConfigDict({"train": {"seed": 3, "shape": (8, 8)}, "optim": {"learning_rate": 0.5}})
    run.write_config(config)
    assert run.has_config()
    assert run.read_config() == {"train": {"seed": 3, "shape": [8, 8]}, "optim": {"learning_rate": 0.5}}
    (tmp_path / RunDirectory.CONFIG).write_text('{"train": ')
    with pytest.raises(run_files.RunDirError, match=rf"{tmp_path / 'config.json'} is not valid JSON .*restore it"):
        run.read_config()


def test_config_history_round_trips_and_gives_the_config_at_a_step(tmp_path):
    run = RunDirectory(tmp_path)
    assert run.read_config_history() == [] and run.config_at(5) is None
    run.append_config_history(0, ml_collections.ConfigDict({"lr": 1.0}), [])
    run.append_config_history(4, ml_collections.ConfigDict({"lr": 2.0}), ["lr: 1.0 (saved) -> 2.0 (now)"])
    records = run.read_config_history()
    assert [r["from_step"] for r in records] == [0, 4] and records[1]["changes"] == ["lr: 1.0 (saved) -> 2.0 (now)"]
    assert run.config_at(3) == {"lr": 1.0} and run.config_at(4) == {"lr": 2.0}


def test_metrics_round_trip_with_non_finite_values_truncate_and_find_evaluations(tmp_path):
    run = RunDirectory(tmp_path)
    assert run.read_metrics() == [] and not run.has_metrics()
    run.append_metrics(2, {"train/loss": 0.5})
    run.append_metrics(4, {"epoch": 1, "test/accuracy": 0.75, "test/loss": float("nan")})
    run.append_metrics(6, {"train/loss": float("inf")})
    rows = run.read_metrics()
    assert [r["step"] for r in rows] == [2, 4, 6]
    assert math.isnan(rows[1]["test/loss"]) and rows[2]["train/loss"] == math.inf
    assert run.has_eval_record(4) and not run.has_eval_record(2)
    run.truncate_metrics(4)
    assert [r["step"] for r in run.read_metrics()] == [2, 4]


def test_metrics_torn_last_line_is_dropped_with_a_warning_and_a_damaged_earlier_line_is_an_error(tmp_path, capsys):
    run = RunDirectory(tmp_path)
    run.metrics_path.write_text('{"step": 1}\n{"step": 2}\n{"step": 3, "tra')
    assert run.read_metrics() == [{"step": 1}, {"step": 2}]
    assert f"warning: {run.metrics_path}: its last line (3) is incomplete" in capsys.readouterr().err
    run.metrics_path.write_text('{"step": 1}\n{"step": \n{"step": 3}\n')
    with pytest.raises(run_files.RunDirError, match=r"metrics.jsonl: line 2 is not valid JSON"):
        run.read_metrics()


def test_summary_round_trips_is_none_before_the_end_and_is_removed(tmp_path):
    run = RunDirectory(tmp_path)
    assert run.read_summary() is None and not run.has_summary()
    run.write_summary({"test_metrics": {"accuracy": 0.5}, "steps": 4})
    assert run.read_summary() == {"test_metrics": {"accuracy": 0.5}, "steps": 4}
    run.summary_path.write_text("{")
    with pytest.raises(run_files.RunDirError, match=r"summary.json is not valid JSON"):
        run.read_summary()
    run.remove_summary()
    assert not run.summary_path.exists() and run.read_summary() is None


def test_provenance_round_trips(tmp_path):
    run = RunDirectory(tmp_path / "new")  # created by the first launch record
    assert run.read_provenance() == []
    run.append_provenance({"commit": "abc", "machine": "m"})
    run.append_provenance({"commit": "def"})
    assert run.read_provenance() == [{"commit": "abc", "machine": "m"}, {"commit": "def"}]


def test_files_are_never_written_through_a_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("important\n")
    run = RunDirectory(tmp_path / "run")
    run.path.mkdir()
    run.provenance_path.symlink_to(victim)
    with pytest.raises(run_files.RunDirError, match="provenance.jsonl is a symbolic link"):
        run.append_provenance({"commit": "abc"})
    run.summary_path.symlink_to(victim)
    with pytest.raises(run_files.RunDirError, match="summary.json is a symbolic link"):
        run.check_owned_files()
    run.write_summary({})  # replaces the link itself
    assert victim.read_text() == "important\n" and not run.summary_path.is_symlink()


def test_checkpoints_through_orbax_steps_and_the_saved_meta(tmp_path):
    run = RunDirectory(tmp_path)
    assert run.checkpoint_steps() == [] and run.latest_checkpoint_step() is None and run.checkpoint_meta() is None
    with run.checkpointer(max_to_keep=3) as ckpt:
        ckpt.save(2, {"w": jnp.ones(3)}, {"epoch": 0, "wall_time_s": 1.5})
        ckpt.save(4, {"w": jnp.ones(3)}, {"epoch": 1, "wall_time_s": 2.5})
    (run.checkpoints_path / "6.unreadable").mkdir()  # set aside by the trainer: no step
    assert run.checkpoint_steps() == [2, 4] and run.latest_checkpoint_step() == 4
    assert run.checkpoint_meta() == {"epoch": 1, "wall_time_s": 2.5}
    assert run.checkpoint_meta(2) == {"epoch": 0, "wall_time_s": 1.5} and run.checkpoint_meta(8) is None
    assert run.checkpoint_path(4) == tmp_path / "checkpoints" / "4"
    # a newest checkpoint whose meta cannot be read: the one before is used (a reader of a run in progress)
    for path in (run.checkpoints_path / "4" / "meta").iterdir():
        path.write_text("{")
    assert run.checkpoint_meta() == {"epoch": 0, "wall_time_s": 1.5}


def test_an_earlier_runs_files_are_set_aside_not_deleted(tmp_path):
    run = RunDirectory(tmp_path)
    assert run.set_aside_earlier_run() is None
    run.write_summary({"a": 1})
    run.append_metrics(1, {"x": 1.0})
    run.tensorboard_path.mkdir()
    (tmp_path / "earlier_run_1").mkdir()
    aside = run.set_aside_earlier_run()
    assert aside == tmp_path / "earlier_run_2"
    assert sorted(p.name for p in aside.iterdir()) == ["metrics.jsonl", "summary.json", "tb"]
    assert not run.has_summary() and not run.has_metrics()


# --------------------------------------------------------------------------- the best evaluation


def test_best_evaluation_ties_go_to_the_later_and_nan_never_wins(tmp_path):
    run = RunDirectory(tmp_path)
    assert run.best_evaluation("validation", "accuracy", higher_is_better=True) is None
    rows = [(1, 0.5, 0.4), (2, 0.9, 0.7), (3, float("nan"), 0.99), (4, 0.9, 0.8), (5, 0.85, 0.95)]
    for i, (step, val, test) in enumerate(rows):
        run.append_metrics(step, {"epoch": i + 1, "validation/accuracy": val, "test/accuracy": test})
    best = run.best_evaluation("validation", "accuracy", higher_is_better=True)
    assert (best.step, best.value, best.was_tie, best.row["test/accuracy"]) == (4, 0.9, True, 0.8)
    low = run.best_evaluation("test", "accuracy", higher_is_better=False)
    assert (low.step, low.value, low.was_tie) == (1, 0.4, False)
    assert "later" in TIE_RULE


def test_best_evaluation_counts_the_last_record_of_a_step_evaluated_twice(tmp_path):
    run = RunDirectory(tmp_path)
    run.append_metrics(2, {"validation/mse": 0.1})
    run.append_metrics(2, {"validation/mse": 0.3})  # a resumed run evaluated step 2 again
    run.append_metrics(4, {"validation/mse": 0.2})
    best = run.best_evaluation("validation", "mse", higher_is_better=False)
    assert (best.step, best.value) == (4, 0.2)


def test_reproduce_rows_follow_the_run_directorys_best_evaluation(tmp_path):
    """A table row's best step is the run directory's, tie rule included."""
    run = RunDirectory(tmp_path / "r")
    run.path.mkdir()
    run.write_config(ml_collections.ConfigDict({"train": {"seed": 1}}))
    for i, (step, val, test) in enumerate([(1, 0.8, 0.1), (2, 0.8, 0.2), (3, 0.7, 0.3)]):
        run.append_metrics(step, {"epoch": i + 1, "validation/accuracy": val, "test/accuracy": test})
    experiment = plans.Experiment(name="r", config="c", overrides={}, metric="accuracy", label="r", paper="p")
    row = results.read_result(experiment, tmp_path)
    best = run.best_evaluation("validation", "accuracy", higher_is_better=True)
    assert (row.best_step, row.best_validation, row.best_was_tie, row.test_at_best_validation) == (
        best.step, best.value, best.was_tie, best.row["test/accuracy"]) == (2, 0.8, True, 0.2)


# --------------------------------------------------------------------------- one owner of the names


SPELLED = (RunDirectory.LOCK, RunDirectory.CONFIG, RunDirectory.CONFIG_HISTORY, RunDirectory.METRICS,
           RunDirectory.SUMMARY, RunDirectory.PROVENANCE, "earlier_run_")


def _spellings(path: Path) -> list[str]:
    """``line: text`` of every string literal in ``path`` (docstrings aside) that names a run
    directory's file: a file name, ``checkpoints`` or ``tb`` as a name, a ``checkpoints/`` path, or
    orbax's internal ``metadata`` file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
            if (any(name in text for name in SPELLED) or text in ("checkpoints", "tb", "metadata")
                    or "checkpoints/" in text or "meta/metadata" in text):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {text!r}")
    return found


def test_only_the_run_directory_class_spells_the_file_names():
    sources = [*sorted((REPO / "snnjax").rglob("*.py")), *sorted((REPO / "bench").glob("*.py")),
               *sorted((REPO / "examples").glob("*.py")), REPO / "train.py"]
    owner = REPO / "snnjax" / "tool" / "run_directory.py"
    assert owner in sources and len(_spellings(owner)) == 9  # each name once, as a constant
    others = [line for path in sources if path != owner for line in _spellings(path)]
    assert others == [], "spell the file names through snnjax.tool.run_directory.RunDirectory:\n" + "\n".join(others)


def test_no_module_but_run_files_parses_json_lines():
    """One JSON-lines reader: no function outside snnjax.tool.run_files splits a file into lines and
    parses each as JSON (reproduce's results and the report each had their own)."""
    own = []
    for path in sorted((REPO / "snnjax").rglob("*.py")):
        if path.name == "run_files.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                calls = {c.func.attr for c in ast.walk(node) if isinstance(c, ast.Call)
                         and isinstance(c.func, ast.Attribute)}
                if "splitlines" in calls and "loads" in calls:
                    own.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
    assert own == [], "read JSON lines through RunDirectory (snnjax.tool.run_files.read_jsonl):\n" + "\n".join(own)


# --------------------------------------------------------------------------- one torn-line warning


@pytest.mark.slow
def test_a_torn_last_line_gives_the_same_warning_from_train_resume_report_and_reproduce(tmp_path, capsys):
    from test_run_dir_safety import changed, small

    workdir = tmp_path / "run"
    config = small()
    tl.train_and_evaluate(config, workdir, progress=False)
    run = RunDirectory(workdir)
    complete = run.metrics_path.read_text()
    run.metrics_path.write_text(complete + '{"step": 2, "train/lo')  # killed while writing a line
    warning = f"warning: {run.metrics_path}: its last line ({len(complete.splitlines()) + 1}) is incomplete"
    capsys.readouterr()

    experiment = plans.Experiment(name="run", config="c", overrides={}, metric="accuracy", label="r", paper="p")
    results.read_result(experiment, tmp_path)
    assert warning in capsys.readouterr().err
    report.read_metrics(workdir)
    assert warning in capsys.readouterr().err
    tl.train_and_evaluate(changed(config, train__num_epochs=2.0), workdir, progress=False)  # resumes
    assert warning in capsys.readouterr().err
    assert run.metrics_path.read_text().startswith(complete)  # the torn line is gone, new records follow
    assert [r["step"] for r in run.read_metrics() if "test/loss" in r] == [2, 4]
