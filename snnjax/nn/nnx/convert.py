"""Between the two parameter layouts: Linen variables ``{"params": ..., "batch_stats": ...}`` and
the state of the NNX modules of :mod:`snnjax.nnx`.

The NNX modules name their attributes as the Linen modules name their submodules and parameters
(``fc0/kernel``, ``neuron0/a``, ``layer1/input/bias``, ``te``, ``conv0/norm/mean``), so a Linen
collection is the pure-dict form of the NNX state of one variable type:

=================  ===================
Linen collection   NNX variable type
=================  ===================
``params``         ``nnx.Param``
``batch_stats``    ``nnx.BatchStat``
=================  ===================

The conversion checks every path and shape both ways, so a net built with other widths, or a
Linen tree from another model, is an error that names what differs, never a silent partial load::

    variables = linen_model.init(key, x, train=False)
    load_linen_variables(nnx_model, variables)          # NNX now computes what Linen does
    assert tree_equal(linen_variables(nnx_model), variables)

:func:`linen_tree` reads any NNX ``State`` in the Linen layout, e.g. the gradients of ``nnx.grad``.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import numpy as np
from flax import nnx

Array = jax.Array
Tree = dict[str, Any]

COLLECTIONS: dict[str, type[nnx.Variable]] = {"params": nnx.Param, "batch_stats": nnx.BatchStat}


def _plain(tree: Any) -> Any:
    """Nested mappings as plain dicts, without empty sub-dicts (Linen leaves out parameterless modules)."""
    if isinstance(tree, nnx.Variable):
        return tree.get_value()
    if isinstance(tree, Mapping):
        out = {str(k): _plain(v) for k, v in tree.items()}
        return {k: v for k, v in out.items() if not (isinstance(v, dict) and not v)}
    return tree


def linen_tree(state: nnx.State | Mapping[str, Any]) -> Tree:
    """An NNX state (or its pure dict) as a Linen-style nested dict of arrays."""
    return _plain(nnx.to_pure_dict(state) if isinstance(state, nnx.State) else state)


def linen_variables(model: nnx.Module) -> dict[str, Tree]:
    """The Linen variables of an NNX model: one collection per variable type it holds."""
    variables = {}
    for collection, var_type in COLLECTIONS.items():
        tree = linen_tree(nnx.state(model, var_type))
        if tree:
            variables[collection] = tree
    return variables


def _paths(tree: Tree) -> dict[str, tuple[int, ...]]:
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {"/".join(str(getattr(k, "key", k)) for k in path): np.shape(leaf) for path, leaf in flat}


def _check_same_layout(collection: str, target: Tree, given: Tree) -> None:
    want, got = _paths(target), _paths(given)
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    shapes = sorted(f"{p}: model {want[p]}, given {got[p]}" for p in set(want) & set(got) if want[p] != got[p])
    if missing or extra or shapes:
        raise ValueError(f"the Linen {collection!r} do not fit this NNX model: missing {missing}, "
                         f"unexpected {extra}, shapes differ {shapes}")


def load_linen_variables(model: nnx.Module, variables: Mapping[str, Any]) -> nnx.Module:
    """Sets ``model``'s variables to the Linen ``variables`` (in place; returns ``model``).

    Every collection the model holds must be given, with exactly the model's paths and shapes;
    values keep the given dtype (float64 weights make a float64 model). Collections the NNX
    modules do not hold (``spikes``, ``synops``, ``neuron_state``, ...) are refused.
    """
    variables = _plain(variables)
    unknown = sorted(set(variables) - set(COLLECTIONS))
    if unknown:
        raise ValueError(f"collections {unknown} have no NNX counterpart here; known: {sorted(COLLECTIONS)}")
    for collection, var_type in COLLECTIONS.items():
        state = nnx.state(model, var_type)
        target = linen_tree(state)
        given = variables.get(collection, {})
        _check_same_layout(collection, target, given)
        if not target:
            continue
        nnx.replace_by_pure_dict(state, given)
        nnx.update(model, state)
    return model


def neuron_state_from_linen(collection: Mapping[str, Any]) -> dict[str, Any]:
    """A Linen ``neuron_state`` collection (``{"conv0": {"neuron": {"state": st}}}``) as the explicit
    state of :class:`snnjax.nnx.ConvSNN` (``{"conv0/neuron": st}``)."""
    flat: dict[str, Any] = {}

    def walk(tree: Mapping[str, Any], path: tuple[str, ...]) -> None:
        for name, value in tree.items():
            if name == "state":
                flat["/".join(path)] = value
            else:
                walk(value, path + (str(name),))

    walk(collection, ())
    return flat


def neuron_state_to_linen(state: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`neuron_state_from_linen`: a ``neuron_state`` collection for Linen's ``apply``."""
    tree: dict[str, Any] = {}
    for path, value in state.items():
        node = tree
        for name in path.split("/"):
            node = node.setdefault(name, {})
        node["state"] = value
    return tree
