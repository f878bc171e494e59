"""The README's NIR export command works on the config it names (configs/smoke_nir.py), and
the other smoke configs are refused with the reason."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

nir = pytest.importorskip("nir")

from configs import smoke_nir  # noqa: E402
from snnjax import nir_io  # noqa: E402
from snnjax.tool import train_lib

REPO = Path(__file__).resolve().parents[2]


def _readme_commands() -> tuple[str, str]:
    text = (REPO / "README.md").read_text()
    train = re.search(r"^python train\.py --config configs/smoke_nir\.py --workdir (\S+)", text, re.M)
    export = re.search(r"^(python -m snnjax\.export (\S+) --format nir)", text, re.M)
    assert train and export, "README lost its NIR export example"
    assert export.group(2) == train.group(1)  # the export reads the run the README trains
    return train.group(1), export.group(1)


@pytest.mark.slow
def test_readme_export_command_writes_a_nir_graph_of_the_smoke_nir_run(tmp_path):
    workdir, command = _readme_commands()
    config = smoke_nir.get_config()
    with config.unlocked():
        config.train.num_steps = 2  # the export needs a checkpoint, not a trained net
        config.train.checkpoint_every_steps = 2
    train_lib.train_and_evaluate(config, tmp_path / workdir, progress=False)
    argv = [sys.executable if word == "python" else word for word in command.split()]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    path = tmp_path / workdir / "model.nir"
    assert done.stdout.strip() == str(Path(workdir) / "model.nir")
    graph = nir.read(str(path))
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    assert kinds["conv0"] == "Conv2d" and kinds["conv0_neuron"] == "LIF" and kinds["pool0"] == "AvgPool2d"


@pytest.mark.parametrize("name,reason", [
    ("smoke", "max pooling"), ("smoke_bpsa", "max pooling"), ("smoke_llc_lif", "OSSA"), ("smoke_ce_lif", "model.arch='conv'")])
def test_other_smoke_configs_are_refused_naming_why(name, reason):
    import importlib

    config = importlib.import_module(f"configs.{name}").get_config()
    with pytest.raises(ValueError, match=reason):  # refused before the variables are read
        nir_io.export_nir(config.model, {}, (28, 28, 1))
