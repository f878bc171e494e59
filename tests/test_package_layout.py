"""The package's layers (``docs/design.md``, "Layers"): imports point only downward, and the old paths are aliases.

``core`` (pure JAX) < ``nn`` (Flax) < ``io`` (data, NIR) < ``tool`` (training tool) < ``apps``. Every
module in a layer folder imports snnjax modules by their folder path (never an alias such as
``snnjax.neurons``) and only from its own layer or one below. The public short paths and the moved
0.1 paths are checked to import the same module objects, the moved ones with a ``DeprecationWarning``.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from cpu_env import cpu_env

from snnjax import _aliases

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "snnjax"
LAYERS = ("core", "nn", "io", "tool", "apps")
# third-party packages a layer must not import (core is pure JAX: Flax and the training tool's
# dependencies start at nn and tool)
FORBIDDEN = {
    "core": ("flax", "ml_collections", "absl", "orbax", "tensorboardX", "tqdm", "matplotlib"),
    "nn": ("absl", "orbax", "tensorboardX", "tqdm", "matplotlib"),
    "io": ("absl", "orbax", "tensorboardX", "tqdm", "matplotlib"),
}
# importable from any layer: the package root (``__version__``, ``__file__``); the packaged configs sit
# above the training tool, which loads them by name
SHARED = {"snnjax": 0, "snnjax.configs": 3}


def layer_of(module: str) -> int | None:
    """The layer index of a folder module path (``snnjax.nn.layers.spiking`` -> 1), else ``None``."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "snnjax" and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    if module in SHARED or module.startswith("snnjax.configs."):
        return SHARED.get(module, SHARED["snnjax.configs"])
    return None


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, module)`` for every import in ``tree``; ``from a import b`` gives ``a.b`` when ``a`` is snnjax."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            if node.module == "snnjax":  # `from snnjax import neurons` imports snnjax.neurons
                found += [(node.lineno, f"snnjax.{alias.name}") for alias in node.names
                          if not alias.name.startswith("__")]
    return found


def wrong_imports(source: str, layer: str) -> list[str]:
    """What is wrong with the imports of a module of ``layer``'s folder, one line each (empty: nothing)."""
    own = LAYERS.index(layer)
    problems = []
    for line, module in imported_modules(ast.parse(source)):
        top = module.split(".")[0]
        if top in FORBIDDEN.get(layer, ()):
            problems.append(f"line {line}: {layer} must not import {top}")
        if top != "snnjax" or module == "snnjax":
            continue
        alias = _aliases.target(module)
        if alias is not None:
            problems.append(f"line {line}: {module} is an alias; import {alias[0]}")
            continue
        target = layer_of(module)
        if target is None:
            problems.append(f"line {line}: {module} is outside the layer folders")
        elif target > own:
            problems.append(f"line {line}: {layer} imports {module}, a layer above it ({LAYERS[target]})")
    return problems


def layer_files():
    return sorted((layer, path) for layer in LAYERS for path in (PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer,path", layer_files(), ids=lambda p: str(p.relative_to(PACKAGE)) if isinstance(p, Path) else p)
def test_every_module_imports_only_its_layer_or_below_by_folder_path(layer, path):
    assert wrong_imports(path.read_text(), layer) == []


@pytest.mark.parametrize("source,layer,expected", [
    ("from snnjax.nn.layers import SpikingNeuron\n", "core", "core imports snnjax.nn.layers, a layer above it (nn)"),
    ("import snnjax.tool.validate as v\n", "io", "io imports snnjax.tool.validate, a layer above it (tool)"),
    ("from snnjax import neurons\n", "nn", "snnjax.neurons is an alias; import snnjax.core.neurons"),
    ("from snnjax.layers.spiking import NEURON_KINDS\n", "tool", "is an alias; import snnjax.nn.layers.spiking"),
    ("import flax.linen as nn\n", "core", "core must not import flax"),
    ("from snnjax.somewhere import x\n", "apps", "snnjax.somewhere is outside the layer folders"),
])
def test_the_check_finds_a_wrong_way_import(source, layer, expected):
    problems = wrong_imports(source, layer)
    assert len(problems) == 1 and expected in problems[0], problems


def test_the_right_way_imports_pass_the_check():
    source = ("import jax\nfrom snnjax.core import neurons, surrogate\nfrom snnjax.nn.models import build_model\n"
              "from snnjax import __version__\nfrom snnjax.configs import smoke\n")
    assert wrong_imports(source, "tool") == []


def test_the_package_root_holds_only_the_layer_folders():
    top = sorted(p.name for p in PACKAGE.iterdir() if p.name != "__pycache__")
    assert top == sorted(["__init__.py", "_aliases.py", "assets", *LAYERS])


@pytest.mark.parametrize("old,new", sorted(_aliases.PUBLIC.items()))
def test_a_public_path_is_the_folder_module_itself_without_a_warning(old, new):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__name__ == new and module.__spec__.name == new  # one module object, its own name


@pytest.mark.parametrize("old,new", sorted(_aliases.MOVED.items()))
def test_a_moved_path_still_imports_the_folder_module(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


@pytest.mark.slow
@pytest.mark.parametrize("old", ["snnjax.train_lib", "snnjax.layers.encoders", "snnjax.nir_io"])
def test_a_moved_path_warns_once_with_its_new_path(old):
    code = (f"import warnings\nwarnings.simplefilter('always')\nwith warnings.catch_warnings(record=True) as w:\n"
            f"    import {old}\n    import {old}\n"
            "print([str(x.message) for x in w if x.category is DeprecationWarning])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=cpu_env(1), capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    messages = ast.literal_eval(out)
    assert messages == [f"{old} moved to {_aliases.MOVED[old]}; the old path goes in snnjax {_aliases.REMOVED_IN}"]


def test_a_submodule_of_a_public_package_is_one_object_under_both_names():
    import snnjax.layers.spiking as by_alias
    import snnjax.nn.layers.spiking as by_folder

    assert by_alias is by_folder and by_alias.NEURON_KINDS is by_folder.NEURON_KINDS
    assert sys.modules["snnjax.layers.spiking"] is sys.modules["snnjax.nn.layers.spiking"]


@pytest.mark.parametrize("command", ["train", "report", "export", "summary", "reproduce"])
def test_python_dash_m_runs_each_command_by_its_public_path(command):
    result = subprocess.run([sys.executable, "-m", f"snnjax.{command}", "--help"], cwd=REPO, env=cpu_env(1),
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode in (0, 1) and "Traceback" not in output, output[-2000:]  # absl's --help exits 1
    assert "usage" in output.lower() or "Try --helpfull" in output


# --------------------------------------------------------------------------- tests mirror the package
TESTS = REPO / "tests"
# package-wide tests: the package and its layout, the docs' tutorials and examples, the benchmarks
TOP_LEVEL_TESTS = {"test_package.py", "test_package_layout.py", "test_tutorials.py", "test_examples.py",
                   "test_example_progress.py", "test_smoke_docs.py", "test_bench.py", "test_bench_peers.py"}


def units(layer: str) -> list[str]:
    """Each module and subpackage directly in ``snnjax/<layer>/`` (``snnjax.core.neurons``, ``snnjax.core.scan``)."""
    folder = PACKAGE / layer
    found = [p for p in folder.iterdir() if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").is_file()]
    return sorted(f"snnjax.{layer}.{p.stem}" for p in found)


def modules_imported_by(sources: list[str]) -> set[str]:
    """The folder paths of the snnjax modules ``sources`` import (aliases resolved; ``"snnjax.x"`` strings count)."""
    names = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("snnjax."):
                names.add(node.value.split(":")[0])
    return {(_aliases.target(n) or (n,))[0] for n in names}


def untested(layer: str, sources: list[str]) -> list[str]:
    tested = modules_imported_by(sources)
    return [u for u in units(layer) if not any(t == u or t.startswith(u + ".") for t in tested)]


@pytest.mark.parametrize("layer", LAYERS)
def test_every_module_of_a_layer_is_tested_in_its_mirror_folder(layer):
    sources = [p.read_text() for p in sorted((TESTS / layer).glob("test_*.py"))]
    assert sources, f"tests/{layer}/ has no tests"
    assert untested(layer, sources) == []


def test_the_mirror_check_finds_an_untested_module():
    assert "snnjax.core.voting" in untested("core", ["from snnjax import neurons\nimport snnjax.core.scan\n"])
    assert "snnjax.core.neurons" not in untested("core", ["from snnjax import neurons\n"])  # the alias counts


def test_only_package_wide_tests_sit_at_the_top_of_tests():
    assert {p.name for p in TESTS.glob("test_*.py")} == TOP_LEVEL_TESTS
