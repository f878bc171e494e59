"""The examples in examples/ run as a user runs them (a fresh process, default JAX settings) and do
what their docstrings say. Each prints its result as a JSON line last."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _run(name, *args):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # not conftest's 4 fake devices
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_custom_scan_trains_a_recurrent_layer():
    result = _run("custom_scan")
    assert result["last_loss"] < 0.5 * result["first_loss"]


@pytest.mark.slow
def test_check_surrogate_gradient():
    assert _run("check_surrogate_gradient")["max_abs_error"] < 1e-6


@pytest.mark.slow
def test_train_with_library_api_learns():
    result = _run("train_with_library_api", 1, 1280)
    assert result["test_accuracy"] > 0.5  # chance is 0.1


@pytest.mark.slow
def test_evaluate_checkpoint_matches_the_run_summary(tmp_path):
    from configs import smoke
    from snnjax.tool import train_lib

    config = smoke.get_config()
    with config.unlocked():
        config.train.num_steps = 15
        config.model.spec = "4c3-p2-8c3-p2-100-10"  # small: this test is about loading the checkpoint
    summary = train_lib.train_and_evaluate(config, tmp_path, progress=False)
    result = _run("evaluate_checkpoint", tmp_path)
    assert result["step"] == 15
    assert abs(result["test_accuracy"] - summary["final_test_accuracy"]) < 1e-6


@pytest.mark.slow
def test_chunked_inference_equals_one_call():
    result = _run("chunked_inference")
    assert (result["steps"], result["chunks"], result["state_t"]) == (784, 4, 784)
    assert result["max_abs_difference_chunked"] == 0.0
    assert result["max_abs_difference_per_step_scan"] < 1e-5
    assert result["predictions_equal"]


def _run_fails(name, *args) -> str:
    """Runs an example that must refuse its command line: exit status 1, one line, no traceback."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-3000:]
    return proc.stderr.strip()


@pytest.mark.slow
def test_evaluate_checkpoint_without_an_argument_says_how_to_call_it():
    # was an IndexError on sys.argv[1]
    assert _run_fails("evaluate_checkpoint").startswith("error: no run directory given; usage: python "
                                                        "examples/evaluate_checkpoint.py RUN_DIR [--best]")
    assert "unknown option(s) ['--latest']" in _run_fails("evaluate_checkpoint", "--latest")


@pytest.mark.slow
def test_evaluate_checkpoint_on_an_empty_or_missing_folder_says_it_is_no_run(tmp_path):
    assert _run_fails("evaluate_checkpoint", tmp_path) == (
        f"error: {tmp_path} holds no config.json: it is not a run directory written by train.py (or the run has "
        "not started); give the --workdir of a train.py run")
    assert _run_fails("evaluate_checkpoint", tmp_path / "nowhere").startswith(f"error: {tmp_path / 'nowhere'} is not a folder")


def test_evaluate_checkpoint_best_without_a_summary_says_to_leave_best_out(tmp_path):
    from snnjax.tool.config import base_config

    (tmp_path / "config.json").write_text(base_config().to_json())  # a run that has not finished
    message = _run_fails("evaluate_checkpoint", tmp_path, "--best")
    assert message.startswith(f"error: {tmp_path / 'summary.json'} not found: --best reads the best checkpoint")
    (tmp_path / "summary.json").write_text("{}")
    assert "names no best checkpoint" in _run_fails("evaluate_checkpoint", tmp_path, "--best")
    # without --best: no checkpoint yet, also one line
    assert "no checkpoint in" in _run_fails("evaluate_checkpoint", tmp_path)
