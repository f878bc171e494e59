"""The package itself: cheap imports, the lazy top-level names, ``__version__``, the error leaf module.

The import checks run in a fresh interpreter: this test session has long since imported Flax.
"""

import ast
import importlib
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

import snnjax
from snnjax import errors
from snnjax.tool import validate

REPO = Path(__file__).resolve().parent.parent

# What the pure core must not pull in: the nn layer's and the training tool's dependencies.
HEAVY = ("flax", "optax", "ml_collections", "absl", "orbax", "tensorboardX", "tqdm")


def _modules_after(statement: str) -> list[str]:
    """The names in ``sys.modules`` of a fresh interpreter after it runs ``statement``."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _heavy_in(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_neurons_and_surrogate_import_no_flax_or_training_dependencies():
    modules = _modules_after("import snnjax.neurons, snnjax.surrogate")
    assert "snnjax.core.neurons.lif" in modules and "snnjax.surrogate" in modules
    assert _heavy_in(modules) == []


def test_import_snnjax_loads_no_submodule():
    modules = _modules_after("import snnjax")
    assert [m for m in modules if m.startswith("snnjax")] == ["snnjax", "snnjax._aliases"]
    assert _heavy_in(modules) == []


def test_from_snnjax_import_neurons_surrogate_is_cheap():
    modules = _modules_after(
        "from snnjax import neurons, surrogate\nassert callable(neurons.lif_step) and callable(surrogate.sigmoid)"
    )
    assert "snnjax.layers" not in modules and "snnjax.nn.layers" not in modules
    assert _heavy_in(modules) == []


def test_a_top_level_name_loads_its_module_on_first_use():
    modules = _modules_after("import snnjax\nsnnjax.SequenceSNN")
    assert "snnjax.nn.models" in modules and "flax" in modules


# Each lazy name and the object it stood for when snnjax/__init__.py imported everything eagerly.
EXPECTED = {
    "ConvSNN": ("snnjax.models", "ConvSNN"),
    "ENCODERS": ("snnjax.core.encoders", "ENCODERS"),
    "ModelOutput": ("snnjax.models", "ModelOutput"),
    "NEURON_KINDS": ("snnjax.layers", "NEURON_KINDS"),
    "NeuronConfig": ("snnjax.layers", "NeuronConfig"),
    "NeuronKind": ("snnjax.layers", "NeuronKind"),
    "RecurrentSpikingLayer": ("snnjax.layers", "RecurrentSpikingLayer"),
    "RecurrentState": ("snnjax.layers", "RecurrentState"),
    "SeqConv": ("snnjax.layers", "SeqConv"),
    "SeqDense": ("snnjax.layers", "SeqDense"),
    "SequenceSNN": ("snnjax.models", "SequenceSNN"),
    "SequenceState": ("snnjax.models", "SequenceState"),
    "SpikingNeuron": ("snnjax.layers", "SpikingNeuron"),
    "build_model": ("snnjax.models", "build_model"),
    "encoders": ("snnjax.layers", "encoders"),
    "register_encoder": ("snnjax.core.encoders", "register"),
    "register_neuron": ("snnjax.layers", "register_neuron"),
}
SUBMODULES = ("data", "layers", "losses", "models", "monitor", "neurons", "surrogate")


@pytest.mark.parametrize("name", sorted(snnjax.__all__))
def test_every_name_of_all_resolves_to_the_object_it_names(name):
    value = getattr(snnjax, name)
    if name == "__version__":
        assert isinstance(value, str)
    elif name in SUBMODULES:
        assert value is importlib.import_module(f"snnjax.{name}")
    else:
        module, attribute = EXPECTED[name]
        assert value is getattr(importlib.import_module(module), attribute)


def test_all_is_exactly_the_names_this_test_knows():
    assert set(snnjax.__all__) == set(EXPECTED) | set(SUBMODULES) | {"__version__"}


def test_dir_lists_all_and_unknown_names_raise_attribute_error():
    assert set(snnjax.__all__) <= set(dir(snnjax))
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        snnjax.not_a_name  # noqa: B018


def test_version_is_the_installed_distributions():
    assert snnjax.__version__ == importlib.metadata.version("snnjax")


def test_version_falls_back_when_the_package_is_not_installed(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert snnjax._installed_version() == "0+unknown"


def test_errors_module_imports_no_other_snnjax_module():
    tree = ast.parse((REPO / "snnjax" / "core" / "errors.py").read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert [m for m in imported if m.startswith("snnjax")] == []
    modules = _modules_after("import snnjax.errors")
    assert [m for m in modules if m.startswith("snnjax")] == [
        "snnjax", "snnjax._aliases", "snnjax.core", "snnjax.core.errors", "snnjax.errors"]


def test_validate_reexports_the_one_config_error():
    from snnjax.tool import run_lock

    assert validate.ConfigError is errors.ConfigError
    assert issubclass(run_lock.RunLockedError, errors.ConfigError)
    assert issubclass(errors.ConfigError, ValueError)


@pytest.mark.slow
@pytest.mark.parametrize("module", ["snnjax.tool.input_pipeline", "snnjax.tool.run_lock", "snnjax.tool.config_diff"])
def test_modules_that_raise_config_error_do_not_import_validate(module):
    assert "snnjax.tool.validate" not in _modules_after(f"import {module}")
