"""Sphinx configuration of the snnjax documentation site (``make docs`` builds it into build/docs).

Sphinx + MyST-NB, as JAX, Flax and optax: autodoc *imports* the package, so the public paths
(``snnjax.neurons``...), which are import-time aliases of the layer folders (``snnjax/_aliases.py``),
are documented under the names users type. Tutorials are Jupytext percent-format ``.py`` files,
rendered without being executed here: ``tests/test_tutorials.py`` executes each of them.

Warnings are errors (``-W`` in the Makefile). Besides Sphinx's own checks (a broken reference to a
page or a heading, a page left out of every toctree), :func:`_check_documented` makes a public name
without a docstring a warning.
"""

from __future__ import annotations

import glob
import importlib
import inspect
import os
import re
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

project = "snnjax"
author = "snnjax developers"
copyright = "2026, snnjax developers"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".py": "myst-nb"}
# the tutorials are Jupytext percent scripts; every other .py below docs/ is excluded. They are not
# executed here: tests/test_tutorials.py runs them and records each cell's output, which
# _ext/tutorial_outputs.py attaches when the script is unchanged since (make test before make docs).
sys.path.insert(0, os.path.abspath("_ext"))
nb_custom_formats = {".py": ["tutorial_outputs.read_tutorial", {}]}
nb_execution_mode = "off"
nb_merge_streams = True
exclude_patterns = ["_build", "_ext", "conf.py", "results/**", "**/.ipynb_checkpoints"]

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# imported-members: a public path is an alias (snnjax.surrogate is snnjax.core.surrogate), so autodoc's
# own "defined here" test (obj.__module__ == "snnjax.surrogate") would drop every member of a module
# without __all__; _skip_imported applies that test to the real module name instead.
autodoc_default_options = {"members": True, "undoc-members": True, "imported-members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # "Attributes:" as a field list: an attribute directive would duplicate the undoc-members entry
napoleon_custom_sections = [("Keys", "params_style")]  # config docstrings list their keys so

html_theme = "furo"
html_title = "snnjax"

# Module-level public names documented in the reference that have no docstring yet. Each is shown
# (undoc-members) but would otherwise fail the build; fix the docstring and delete the entry.
UNDOCUMENTED_ALLOWED: set[str] = {
    "snnjax.neurons.li_init_state",  # the resting state, as lif_init_state's docstring says for LIF
    "snnjax.tool.train_steps.jit_eval_step",  # jit_train_step's twin for the eval step
}

_current_module: list[str] = [""]  # the module autodoc is documenting (its members come after it)


def _remember_module(app, what, name, obj, options, lines):
    if what == "module":
        _current_module[0] = name
    elif what == "data" and lines and type(obj).__doc__:
        # a constant without a #: comment gets its type's docstring (dict's, tuple's): not about it
        if lines[0].strip() == inspect.cleandoc(type(obj).__doc__).splitlines()[0].strip():
            lines.clear()


def _documented_modules() -> list[str]:
    """The real (folder) names of the modules the API pages document, longest first."""
    names = set()
    for page in glob.glob(os.path.join(os.path.dirname(__file__), "api", "*.md")):
        for path in re.findall(r"^\.\. automodule:: (\S+)", open(page, encoding="utf-8").read(), re.M):
            names.add(importlib.import_module(path).__name__)
    return sorted(names, key=len, reverse=True)


def _owner(defined_in: str) -> str | None:
    """The documented module that ``defined_in`` belongs to (itself or a package above it)."""
    if "owners" not in _cache:
        _cache["owners"] = _documented_modules()
    return next((m for m in _cache["owners"] if defined_in == m or defined_in.startswith(m + ".")), None)


_cache: dict[str, list[str]] = {}


def _skip_imported(app, what, name, obj, skip, options):
    """Document each object once, on the page of the module that owns it.

    A name re-exported by another documented module (``NeuronConfig`` in ``snnjax.layers``, owned by
    ``snnjax.neurons``) is skipped there: two entries for one object are a duplicate-description
    error. A module without ``__all__`` documents what it defines, not what it imports (``Callable``).
    """
    if what != "module" or skip:
        return None
    module = sys.modules.get(_current_module[0])
    if module is None:
        return None
    defined_in = getattr(obj, "__module__", None)
    if isinstance(defined_in, str) and not defined_in.startswith("snnjax"):
        return True  # a type alias (Array = jax.Array) or another library's object
    if isinstance(defined_in, str) and not isinstance(obj, (dict, list, tuple)):
        owner = _owner(defined_in)
        if owner is not None and owner != module.__name__ and not _assigned_in(module, name):
            return True
    if hasattr(module, "__all__"):
        return None
    if (isinstance(obj, type) or callable(obj) and hasattr(obj, "__code__")) and defined_in == module.__name__:
        return None  # a def or class of this module
    return None if _assigned_in(module, name) else True


def _assigned_in(module, name: str) -> bool:
    """``name = ...`` (or ``name: T = ...``) at the top level of ``module``'s source: a public constant,
    registry or alias it defines (``ENCODERS``, ``register = ENCODERS.register``), not an import."""
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return False
    return re.search(rf"^{re.escape(name)}\s*(:[^=\n]+)?=[^=]", source, re.M) is not None


def _check_documented(app, what, name, obj, options, lines):
    """Warn (an error under ``-W``) when a module-level public function or class has no docstring."""
    if what not in ("function", "class", "exception") or lines or name in UNDOCUMENTED_ALLOWED:
        return
    module_name, _, attr = name.rpartition(".")
    if attr.startswith("_") or module_name not in sys.modules:
        return  # a method or attribute of a class: documented with its class
    from sphinx.util import logging

    logging.getLogger(__name__).warning("public name without a docstring: %s", name, type="snnjax")


_ASSIGNMENT = re.compile(r"^([A-Za-z]\w*)\s*(?::[^=\n]+)?=[^=]", re.M)


def _public_constants(path: str) -> list[str]:
    """The public data of a module: constants and registries (``DEFAULT_DT``, ``NEURON_KINDS``).

    Autodoc's ``members`` leaves out data that has no ``#:`` comment; these get an ``autodata`` entry
    each. Names of ``__all__``, or, without it, names the module assigns at its top level, that are
    not a class, a function, a module or another library's object (a type alias like ``Array``).
    """
    module = importlib.import_module(path)
    names = getattr(module, "__all__", None)
    if names is None:
        names = list(dict.fromkeys(_ASSIGNMENT.findall(inspect.getsource(module))))
    constants = []
    for name in names:
        value = getattr(module, name, None)
        defined_in = getattr(value, "__module__", None)
        if (name.startswith("_") or value is None or inspect.ismodule(value) or inspect.isclass(value) or callable(value)
                or (isinstance(defined_in, str) and not defined_in.startswith("snnjax"))):
            continue
        constants.append(name)
    return constants


def _add_constants(app, docname, source):
    """Appends an ``autodata`` entry for each public constant after each ``automodule`` of an API page."""
    if not docname.startswith("api/"):
        return

    def add(match):
        block, path = match.group(0), match.group(1)
        if ":no-members:" in block:
            return block
        entries = []
        for name in _public_constants(path):
            long_value = len(repr(getattr(importlib.import_module(path), name))) > 100
            entries.append(f"\n.. autodata:: {path}.{name}\n" + ("   :no-value:\n" if long_value else ""))
        return block + "".join(entries)

    source[0] = re.sub(r"^\.\. automodule:: (\S+)\n(?:   :[^\n]*\n)*", add, source[0], flags=re.M)


def setup(app):
    app.connect("source-read", _add_constants)
    app.connect("autodoc-process-docstring", _remember_module)
    app.connect("autodoc-skip-member", _skip_imported)
    app.connect("autodoc-process-docstring", _check_documented)
