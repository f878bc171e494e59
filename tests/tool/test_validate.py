"""Config checks (snnjax.tool.validate): bad configs are refused before anything compiles, with messages
that name the key and say what to do."""

import subprocess
import sys
from pathlib import Path

import jax
import pytest

from snnjax import data as data_lib
from snnjax.tool import train_lib
from snnjax.tool import validate
from snnjax.tool.config import base_config
from snnjax.tool.validate import ConfigError

REPO = Path(__file__).resolve().parents[2]


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
        ("train.loop", "gpu", "train.loop='gpu' is unknown"),  # checked with the rest, before any compile
        ("loss.reduction", "max", r"loss.reduction='max' is unknown; choose one of \['mean', 'sum'\]"),
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



# Values that used to end in a raw traceback (or a silent NaN run): each is now one line naming the key.
BAD_VALUES = [
    ("model.spec", "16c0-10", r"token '16c0' \(position 0\) in spec '16c0-10' has a size of 0"),
    ("model.spec", "16c3-p0-10", r"token 'p0' .* has a size of 0"),
    ("model.spec", "0-10", r"token '0' .* has a size of 0"),
    ("model.spec", "16c3-p2", r"must end with a dense or voting layer"),
    ("model.spec", "16c3-x2-10", r"bad token 'x2'"),
    ("model.pool", "min", r"model.pool='min' must be one of \['max', 'avg'\]"),
    ("train.seed", 2**70, r"train.seed=1180591620717411303424 must be an integer in \[0, 2\*\*63\)"),
    ("train.seed", -1, r"train.seed=-1 must be an integer in \[0, 2\*\*63\)"),
    ("data.seed", -1, r"data.seed=-1 must be an integer"),
    ("model.permutation_seed", -3, r"model.permutation_seed=-3 must be an integer"),
    ("train.num_epochs", float("inf"), r"train.num_epochs=inf must be a finite number"),
    ("optim.learning_rate", float("nan"), r"optim.learning_rate=nan must be a finite number"),
    ("model.neuron.decay", float("nan"), r"model.neuron.decay=nan must be a finite number"),
    ("model.neuron.decay", 1.5, r"model.neuron.decay=1.5 must be in \[0.0, 1.0\]"),
    ("model.neuron.v_th", 0.0, r"model.neuron.v_th=0.0 must be > 0.0"),
    ("model.neuron.surrogate_param", -2.0, r"surrogate.sigmoid: alpha must be a finite number > 0, got -2.0"),
    ("model.neuron.surrogate_param", 0.0, r"surrogate.sigmoid: alpha must be a finite number > 0, got 0.0"),
    ("data.val_fraction", float("nan"), r"data.val_fraction=nan must be a finite number"),
    ("data.seq_len", 0, r"data.seq_len=0 must be >= 1"),
    ("data.num_train", 0, r"data.num_train=0 must be >= 1"),
    ("data.num_test", -1, r"data.num_test=-1 must be >= 1"),
    ("data.time_bins", 0, r"data.time_bins=0 must be >= 1"),
    ("data.num_classes", 1, r"data.num_classes=1 must be >= 2"),
    ("data.shape", (28, 0, 1), r"data.shape=\(28, 0, 1\) must be a non-empty tuple of sizes >= 1"),
    ("data.shape", (), r"data.shape=\(\) must be a non-empty tuple"),
    ("data.augment", "", r"data.augment='' is unknown; choose one of \['affine', 'none'\]"),
    ("data.data_dir", "", r"data.data_dir='' is empty"),
    ("data.data_dir", "/tmp/" + "d" * 300, r"data.data_dir has a folder name of 300 bytes"),
    ("model.hidden", (), r"model.hidden=\(\) must be a non-empty tuple of layer widths >= 1"),
    ("model.hidden", (64, 0), r"model.hidden=\(64, 0\) must be"),
    ("model.recurrent_layers", (5,), r"model.recurrent_layers contains 5: give indices of model.hidden, 0..2"),
    ("model.dropout", 1.0, r"model.dropout=1.0 must be in \[0.0, 1.0\)"),
    ("model.dropout", -0.5, r"model.dropout=-0.5 must be in"),
    ("model.local_dropout", 1.5, r"model.local_dropout=1.5 must be in"),
    ("model.ossa_attn_dropout", -1.0, r"model.ossa_attn_dropout=-1.0 must be in"),
    ("model.readout_decay", 1.0, r"model.readout_decay=1.0 must be in \[0.0, 1.0\)"),
    ("model.llc_bn_alpha", 0.0, r"model.llc_bn_alpha=0.0 must be > 0.0"),
    ("model.votes_per_class", 0, r"model.votes_per_class=0 must be >= 1"),
    ("model.te_init_std", -1.0, r"model.te_init_std=-1.0 must be >= 0.0"),
    ("model.ossa_form", "paper", r"model.ossa_form='paper' must be one of \['text', 'code'\]"),
    ("model.norm", "ln", r"model.norm must be one of"),
    ("model.neuron.rho", 2.0, r"model.neuron.rho=2.0 must be in \[0.0, 1.0\]"),
    ("model.neuron.init_tau", 1.0, r"model.neuron.init_tau=1.0 must be > 1.0"),
    ("model.neuron.beta", -1.0, r"model.neuron.beta=-1.0 must be >= 0.0"),
    ("optim.b1", 1.0, r"optim.b1=1.0 must be in \[0.0, 1.0\)"),
    ("optim.b2", -0.1, r"optim.b2=-0.1 must be in"),
    ("optim.eps", 0.0, r"optim.eps=0.0 must be > 0.0"),
    ("optim.momentum", 1.0, r"optim.momentum=1.0 must be in"),
    ("optim.weight_decay", -1.0, r"optim.weight_decay=-1.0 must be >= 0.0"),
    ("optim.warmup_epochs", -1.0, r"optim.warmup_epochs=-1.0 must be >= 0.0"),
    ("optim.sgdr_period_epochs", 0.0, r"optim.sgdr_period_epochs=0.0 must be > 0.0"),
    ("optim.sgdr_mult", 0.5, r"optim.sgdr_mult=0.5 must be >= 1.0"),
    ("optim.min_lr", -1.0, r"optim.min_lr=-1.0 must be >= 0.0"),
    ("loss.local_weight", -1.0, r"loss.local_weight=-1.0 must be >= 0.0"),
    ("train.steps_per_call", 0, r"train.steps_per_call=0 must be >= 1"),
    ("train.num_steps", 2**40, r"train.num_steps=1099511627776 must be below 2\*\*31"),
    ("model.time_steps", 2**31, r"model.time_steps=2147483648 must be below 2\*\*31"),
    ("data.num_train", 2**70, r"data.num_train=1180591620717411303424 must be below 2\*\*31"),
    ("model.scan", "", r"model.scan='' is unknown"),
]


READ_BY = {"model.neuron.rho": {"model.neuron.kind": "alif"}, "model.neuron.beta": {"model.neuron.kind": "alif"},
           "model.neuron.init_tau": {"model.neuron.kind": "plif"}}


@pytest.mark.parametrize("key, value, message", BAD_VALUES, ids=[f"{k}={v!r}"[:60] for k, v, _ in BAD_VALUES])
def test_every_value_that_reaches_arithmetic_a_key_or_a_path_is_checked_in_one_line(key, value, message):
    config = base_config()
    with config.unlocked():
        for other, kind_value in READ_BY.get(key, {}).items():  # a kind that reads the option
            _set(config, other, kind_value)
        _set(config, key, value)
    with pytest.raises(ConfigError, match=message) as error:
        validate.check_config(config)
    assert str(error.value).startswith("the config has 1 problem(s):"), str(error.value)
    assert len(str(error.value).splitlines()) == 2


def test_the_bad_values_reach_a_raw_error_or_a_silent_run_without_the_check():
    """What the table's values did before: the issue's spec divided by zero in the weight init, a
    seed beyond int64 overflowed in PRNGKey, an infinite epoch count in int()."""
    from snnjax.layers.synapse import torch_uniform

    with pytest.raises(ZeroDivisionError):
        torch_uniform(0)
    with pytest.raises(OverflowError):
        jax.random.PRNGKey(2**70)
    with pytest.raises(OverflowError):
        int(float("inf"))


def test_cli_refuses_the_issues_spec_and_surrogate_param_in_one_line(tmp_path):
    result = _train_cli("--config.model.spec=16c0-10", "--config.model.neuron.surrogate_param=-2.0", workdir=tmp_path)
    assert result.returncode != 0
    assert "token '16c0'" in result.stderr and "alpha must be a finite number > 0, got -2.0" in result.stderr
    assert "Traceback" not in result.stderr and "ZeroDivisionError" not in result.stderr
    assert not (tmp_path / "checkpoints").exists()
