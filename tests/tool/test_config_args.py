"""Every experiment config refuses an argument it does not know (``configs/<name>.py:foo``)."""

import importlib
from pathlib import Path

import pytest

CONFIG_FILES = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "configs").glob("*.py")
                      if "def get_config" in p.read_text())


def test_every_config_file_is_listed():
    assert len(CONFIG_FILES) == 30 and {"smoke", "smoke_nir", "shd"} <= set(CONFIG_FILES)


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_config_refuses_an_unknown_argument(name):
    module = importlib.import_module(f"configs.{name}")
    with pytest.raises(ValueError, match=r"config '\w+'.*'zz_not_an_argument'"):
        module.get_config("zz_not_an_argument")


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_config_without_argument_or_with_an_empty_one_is_its_default(name):
    module = importlib.import_module(f"configs.{name}")
    assert module.get_config(None).to_dict() == module.get_config("").to_dict()


def _none_default_keys() -> list[str]:
    from snnjax.tool.config import base_config

    keys = []

    def walk(node, prefix):
        for key, value in node.items():
            if hasattr(value, "items"):
                walk(value, f"{prefix}{key}.")
            elif value is None:
                keys.append(f"{prefix}{key}")

    walk(base_config(), "")
    return keys


# a value of the right type for each key that defaults to None (the test fails on a new one)
NONE_DEFAULT_VALUES = {"data.data_dir": "/tmp/some_folder", "model.neuron.surrogate_param": 2.0}


def test_the_keys_that_default_to_none_are_known():
    assert sorted(_none_default_keys()) == sorted(NONE_DEFAULT_VALUES)


@pytest.mark.slow
@pytest.mark.parametrize("config_file", ["configs/smoke.py", "configs/smoke_bpsa.py"])
def test_every_key_that_defaults_to_none_can_be_set_from_the_command_line(config_file):
    """``--config.model.neuron.surrogate_param=2.0`` was refused by the flag parser ("Type NoneType
    ... not supported for overriding"); such keys are typed placeholders now. smoke_bpsa sets
    surrogate_param to None in the file: the placeholder keeps its type."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, json\n"
        "from absl import flags\n"
        "from ml_collections import config_flags\n"
        "c = config_flags.DEFINE_config_file('config', None, '', lock_config=True)\n"
        "flags.FLAGS(sys.argv)\n"
        "print(json.dumps({k: eval('c.value.' + k) for k in %r}))\n" % sorted(NONE_DEFAULT_VALUES)
    )
    args = [f"--config.{k}={v}" for k, v in NONE_DEFAULT_VALUES.items()]
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code, f"--config={config_file}", *args], cwd=repo, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    assert json.loads(done.stdout.splitlines()[-1]) == NONE_DEFAULT_VALUES


def test_an_old_run_directorys_null_reads_back_as_the_default_and_can_be_set(tmp_path):
    """Run directories written before hold ``null``: ``run_dir.load_config`` reads it as None (the
    surrogate's own default), the value the current default config has, so the resume check sees
    no change; the key stays typed (a later override to a float still works)."""
    import json

    from snnjax.tool import run_dir
    from snnjax.tool.config import base_config
    from snnjax.layers.spiking import NeuronConfig

    saved = json.loads(base_config().to_json())
    saved["model"]["neuron"]["surrogate_param"] = None
    saved["data"]["data_dir"] = None
    (tmp_path / "config.json").write_text(json.dumps(saved))
    config = run_dir.load_config(tmp_path)
    assert config.model.neuron.surrogate_param is None and config.data.data_dir is None
    assert config.to_dict() == base_config().to_dict()
    assert NeuronConfig.from_mapping(config.model.neuron).spike_fn() == NeuronConfig().spike_fn()
    # the resume check compares the saved null with the current default: no change
    from snnjax.tool.config_diff import check_resumed_config

    assert check_resumed_config(saved, base_config(), allow_change=False) == []
    config.model.neuron.surrogate_param = 3.0
    assert config.model.neuron.surrogate_param == 3.0
    assert check_resumed_config(saved, config, allow_change=True) != []  # a real change is still seen
