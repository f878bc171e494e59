"""Config checks (snnjax.validate): bad configs are refused before anything compiles, with messages
that name the key and say what to do."""

import subprocess
import sys
from pathlib import Path

import jax
import pytest

from snnjax import data as data_lib
from snnjax import train_lib, validate
from snnjax.config import base_config
from snnjax.validate import ConfigError

REPO = Path(__file__).resolve().parent.parent


def _set(config, dotted: str, value):
    *path, last = dotted.split(".")
    node = config
    for key in path:
        node = node[key]
    node[last] = value


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("model.time_steps", 0, "model.time_steps=0 must be >= 1"),
        ("train.batch_size", 6, "divisible by the 4 devices"),
        ("train.eval_batch_size", 10, "eval_batch_size=10 must be divisible"),
        ("data.val_fraction", 1.0, r"val_fraction=1.0 must be in \[0, 1\)"),
        ("data.val_fraction", -0.1, "val_fraction"),
        ("train.num_epochs", 0.0, "num_epochs=0.0 must be > 0 when train.num_steps=0"),
        ("train.num_steps", -1, "num_steps=-1 must be >= 0"),
        ("data.name", "mnits", "did you mean 'mnist'"),
        ("loss.name", "mse", "loss.name='mse' is unknown"),
        ("model.arch", "transformer", "model.arch='transformer' is unknown"),
        ("optim.name", "adamm", "did you mean 'adam'"),
        ("optim.schedule", "linear", "optim.schedule='linear' is unknown"),
        ("model.neuron.kind", "izhikevich", "model.neuron.kind='izhikevich' is unknown"),
        ("model.encoder", "phase", "model.encoder='phase' is unknown"),
        ("optim.learning_rate", 0.0, "learning_rate=0.0 must be > 0"),
    ],
)
def test_bad_values_are_refused(key, value, message):
    config = base_config()
    _set(config, key, value)
    with pytest.raises(ConfigError, match=message):
        validate.check_config(config, num_devices=4)


def test_a_good_config_passes_and_all_problems_are_listed_at_once():
    validate.check_config(base_config(), num_devices=4)
    config = base_config()
    config.model.time_steps = 0
    config.loss.name = "nope"
    with pytest.raises(ConfigError, match="2 problem") as error:
        validate.check_config(config)
    assert "model.time_steps" in str(error.value) and "loss.name" in str(error.value)


def test_unknown_keys_added_in_code_are_refused():
    config = base_config()
    config.train.batchsize = 3  # a typo in a config file (before it is locked)
    with pytest.raises(ConfigError, match="'train.batchsize'; did you mean 'train.batch_size'"):
        validate.check_config(config)


def _random_dataset(config):
    config.data.name = "random"
    config.data.shape = (8, 8, 1)
    config.data.num_train, config.data.num_test = 8, 4
    return data_lib.load(config.data)


def test_checks_against_the_data():
    config = base_config()
    dataset = _random_dataset(config)
    config.model.spec = "4c3-p2-10"
    config.train.batch_size = 8
    from snnjax.models import build_model

    assert validate.check_with_data(config, dataset) == build_model(config.model, dataset.num_classes)
    config.train.batch_size = 16
    with pytest.raises(ConfigError, match="larger than the 8 training examples"):
        validate.check_with_data(config, dataset)
    config.train.batch_size = 4
    config.loss.name = "mse_regression"
    with pytest.raises(ConfigError, match="does not fit the classification task"):
        validate.check_with_data(config, dataset)
    config.loss.name = "mse_rate"
    config.model.spec = "4c3-p2-7"
    with pytest.raises(ConfigError, match="ends in 7 outputs but the data has 10 classes"):
        validate.check_with_data(config, dataset)


@pytest.fixture
def compiles():
    """Names of the XLA compilations that happen while the test runs."""
    seen = []

    def listener(name, *args, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            seen.append(name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield seen
    jax.monitoring.unregister_event_duration_listener(listener)


@pytest.mark.parametrize("case", ["too_big_batch", "bad_spec", "bad_time_steps"])
def test_train_and_evaluate_refuses_before_compiling(case, compiles, tmp_path):
    config = base_config()
    config.data.name = "random"
    config.data.shape = (8, 8, 1)
    config.data.num_train, config.data.num_test = 8, 4
    config.model.spec = "4c3-p2-10"
    config.train.batch_size = 4
    if case == "too_big_batch":
        config.train.batch_size = 16
    elif case == "bad_spec":
        config.model.spec = "4c3-px-10"
    else:
        config.model.time_steps = 0
    with pytest.raises(ConfigError):
        train_lib.train_and_evaluate(config, tmp_path, progress=False)
    assert compiles == []
    assert not (tmp_path / "checkpoints").exists()
    # the listener does see a compilation (else the first assertion could not fail)
    jax.jit(lambda x: x * 3.0 + 1.0)(jax.numpy.ones(3))
    assert compiles


def _train_cli(*overrides, workdir):
    cmd = [sys.executable, "train.py", "--config", "configs/smoke.py", "--workdir", str(workdir), *overrides]
    return subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_cli_names_an_unknown_override_key(tmp_path):
    result = _train_cli("--config.train.batchsize=3", workdir=tmp_path)
    assert result.returncode != 0
    assert "--config.train.batchsize" in result.stderr and '"batch_size"' in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_refuses_a_bad_value_with_a_message(tmp_path):
    result = _train_cli("--config.model.time_steps=0", "--config.data.val_fraction=1.5", workdir=tmp_path)
    assert result.returncode != 0
    assert "model.time_steps=0 must be >= 1" in result.stderr and "val_fraction=1.5" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "checkpoints").exists()


def test_missing_data_raises_the_data_packages_error(tmp_path, monkeypatch):
    """Wherever MNIST is installed on the machine, the loader is made to find nothing: every folder
    it searches is empty and tensorflow-datasets reads nothing."""
    from snnjax.data import search, tfds_source

    config = base_config()
    config.data.name = "mnist"
    config.data.data_dir = str(tmp_path / "nowhere")
    monkeypatch.setenv(data_lib.ENV_VAR, str(tmp_path / "nowhere_either"))
    monkeypatch.setattr(search, "SYSTEM_DIRS", {})

    def no_tfds(name, split, data_dir):
        raise tfds_source.TFDSReadError("patched out by the test")

    monkeypatch.setattr(tfds_source, "read_image_split", no_tfds)
    with pytest.raises(data_lib.DataNotFoundError, match="patched out by the test") as error:
        data_lib.load(config.data)
    assert str(tmp_path / "nowhere") in str(error.value) and str(tmp_path / "nowhere_either") in str(error.value)
    with pytest.raises(data_lib.DataNotFoundError, match="Could not find the 'mnist' dataset"):
        train_lib.train_and_evaluate(config, tmp_path / "w", progress=False)
    assert not (tmp_path / "w" / "checkpoints").exists()
