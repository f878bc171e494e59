"""The examples in examples/ run as a user runs them (a fresh process, default JAX settings) and do
what their docstrings say. Each prints its result as a JSON line last."""

import json
import os
import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _run(name, *args):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # not conftest's 4 fake devices
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_custom_scan_trains_a_recurrent_layer():
    result = _run("custom_scan")
    assert result["last_loss"] < 0.5 * result["first_loss"]


def test_check_surrogate_gradient():
    assert _run("check_surrogate_gradient")["max_abs_error"] < 1e-6


def test_train_with_library_api_learns():
    result = _run("train_with_library_api", 1, 1280)
    assert result["test_accuracy"] > 0.5  # chance is 0.1


def test_evaluate_checkpoint_matches_the_run_summary(tmp_path):
    from configs import smoke
    from snnjax import train_lib

    config = smoke.get_config()
    with config.unlocked():
        config.train.num_steps = 15
        config.model.spec = "4c3-p2-8c3-p2-100-10"  # small: this test is about loading the checkpoint
    summary = train_lib.train_and_evaluate(config, tmp_path, progress=False)
    result = _run("evaluate_checkpoint", tmp_path)
    assert result["step"] == 15
    assert abs(result["test_accuracy"] - summary["final_test_accuracy"]) < 1e-6


def test_chunked_inference_equals_one_call():
    result = _run("chunked_inference")
    assert (result["steps"], result["chunks"], result["state_t"]) == (784, 4, 784)
    assert result["max_abs_difference_chunked"] == 0.0
    assert result["max_abs_difference_per_step_scan"] < 1e-5
    assert result["predictions_equal"]
