"""The short public module paths (``snnjax.neurons``) of modules that live in the layer folders.

snnjax's code lives in five folders, one per layer (``docs/design.md``, "Layers"): ``core`` (pure JAX),
``nn`` (Flax), ``io`` (data, NIR), ``tool`` (the training tool) and ``apps`` (report, export, summary,
reproduce). Users keep the paths they know: ``import snnjax.neurons``, ``from snnjax.layers.spiking
import NEURON_KINDS``, ``python -m snnjax.report``. Each such path is an alias: importing it returns
the *same module object* as the folder path (``snnjax.neurons is snnjax.core.neurons``), so a registry,
a ``custom_vjp`` or an ``isinstance`` check exists once, whichever path imported it.

Two kinds of alias:

- :data:`PUBLIC`: the library's public modules and the commands. Permanent; no warning.
- :data:`MOVED`: the training tool's modules and a few helpers that sat at the top level in 0.1
  (``snnjax.train_lib``, ``snnjax.layers.encoders``...). They import with a ``DeprecationWarning``
  naming the new path, and go in 0.3.

This module imports nothing from snnjax; ``snnjax/__init__.py`` installs :class:`AliasFinder`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import warnings

# old path -> path in the layer folders
PUBLIC: dict[str, str] = {
    "snnjax.neurons": "snnjax.core.neurons",
    "snnjax.surrogate": "snnjax.core.surrogate",
    "snnjax.kernels": "snnjax.core.kernels",
    "snnjax.energy": "snnjax.core.energy",
    "snnjax.losses": "snnjax.core.losses",
    "snnjax.testing": "snnjax.core.testing",
    "snnjax.errors": "snnjax.core.errors",
    "snnjax.layers": "snnjax.nn.layers",
    "snnjax.models": "snnjax.nn.models",
    "snnjax.nnx": "snnjax.nn.nnx",
    "snnjax.monitor": "snnjax.nn.monitor",
    "snnjax.data": "snnjax.io.data",
    "snnjax.nir": "snnjax.io.nir",
    "snnjax.train": "snnjax.tool.train",
    "snnjax.report": "snnjax.apps.report",
    "snnjax.export": "snnjax.apps.export",
    "snnjax.summary": "snnjax.apps.summary",
    "snnjax.reproduce": "snnjax.apps.reproduce",
}

_TOOL_MODULES = (
    "best_evaluation", "checkpointing", "cli_errors", "config", "config_diff", "config_files", "device_loop",
    "evaluation", "host_malloc", "input_pipeline", "metric_writers", "optim", "preemption", "run_dir",
    "run_directory", "run_files", "run_lock", "run_summary", "steppers", "train_lib", "train_steps", "validate",
)

MOVED: dict[str, str] = {
    **{f"snnjax.{name}": f"snnjax.tool.{name}" for name in _TOOL_MODULES},
    "snnjax.flat_random": "snnjax.core.flat_random",
    "snnjax.registry": "snnjax.core.registry",
    "snnjax.plotting": "snnjax.apps.plotting",
    "snnjax.nir_io": "snnjax.io.nir",
    "snnjax.layers.encoders": "snnjax.core.encoders",
    "snnjax.layers.voting": "snnjax.core.voting",
    "snnjax.layers.time": "snnjax.core.time",
    "snnjax.models.output": "snnjax.core.output",
}

REMOVED_IN = "0.3"

# longest old path first, so snnjax.layers.encoders wins over snnjax.layers
_ALIASES = sorted(((old, new, old in MOVED) for old, new in {**PUBLIC, **MOVED}.items()), key=lambda a: -len(a[0]))


def target(name: str) -> tuple[str, bool] | None:
    """``(path in the layer folders, whether the old path is deprecated)`` for an alias, else ``None``.

    A submodule of an aliased package is aliased too: ``snnjax.layers.spiking`` -> ``snnjax.nn.layers.spiking``.
    """
    for old, new, moved in _ALIASES:
        if name == old or name.startswith(old + "."):
            return new + name[len(old):], moved
    return None


class AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an alias to the module at its folder path (imported once, under its folder name).

    ``create_module`` returns the already imported folder module, so ``sys.modules`` holds one module
    object under both names; ``get_code`` lets ``python -m snnjax.report`` run the folder module's code.
    """

    def __init__(self) -> None:
        self._real_specs: dict[str, importlib.machinery.ModuleSpec] = {}

    def find_spec(self, fullname: str, path=None, target_module=None) -> importlib.machinery.ModuleSpec | None:
        found = target(fullname)
        if found is None:
            return None
        real_spec = importlib.util.find_spec(found[0])
        if real_spec is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=real_spec.origin,
                                               is_package=real_spec.submodule_search_locations is not None)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        real_name, moved = target(spec.name)
        if moved:
            warnings.warn(f"{spec.name} moved to {real_name}; the old path goes in snnjax {REMOVED_IN}",
                          DeprecationWarning, stacklevel=2)
        module = importlib.import_module(real_name)
        # the import system now sets module.__spec__ to the alias's spec; exec_module puts the real one back
        self._real_specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = self._real_specs.pop(module.__spec__.name)

    def get_code(self, fullname: str) -> types.CodeType | None:
        """The folder module's code (``runpy`` runs it for ``python -m <alias>``)."""
        real_name = target(fullname)[0]
        real_spec = importlib.util.find_spec(real_name)
        return real_spec.loader.get_code(real_name)


def install() -> None:
    """Puts one :class:`AliasFinder` on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(finder, AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())  # before the path finder, which would load a second copy
