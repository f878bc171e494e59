"""``Module.apply`` and ``Module.init`` under one ``jax.jit``, for tests that compare whole models.

Run eagerly, a Flax model is dispatched op by op, and every ``lax.scan`` or ``custom_vjp`` inside it
is traced and compiled again at each call: a small conv net's forward then costs seconds. Under one
``jax.jit`` it is one compile per distinct call signature, and a test that calls the same model
several times (chunked inference, a fold, a round trip) compiles each signature once.

Keyword arguments whose leaves are all arrays (``rngs``, a carried ``state``, a ``te`` table) are
traced; every other keyword argument (``train``, ``mutable``, ``time_steps``,
``capture_intermediates``, ``method``) is static. The values are those of the eager call: jit
changes where XLA fuses, not what is computed, so comparisons keep their tolerances.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

_JITTED: dict[tuple, tuple[Any, Callable]] = {}


def _is_traced(value: Any) -> bool:
    leaves = jax.tree.leaves(value)
    return bool(leaves) and all(isinstance(leaf, (jax.Array, np.ndarray)) for leaf in leaves)


def _static(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _call(model: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    traced = {k: v for k, v in kwargs.items() if _is_traced(v)}
    static = tuple(sorted((k, _static(v)) for k, v in kwargs.items() if k not in traced))
    key = (id(model), name, static)  # jit itself retraces for new traced names, shapes or x64
    if key not in _JITTED:
        method = getattr(model, name)
        _JITTED[key] = (model, jax.jit(lambda *a, **t: method(*a, **t, **dict(static))))
    return _JITTED[key][1](*args, **traced)


def apply(model: Any, variables: Any, *args: Any, **kwargs: Any) -> Any:
    """``model.apply(variables, *args, **kwargs)`` under ``jax.jit`` (positional args are traced)."""
    return _call(model, "apply", variables, *args, **kwargs)


def init(model: Any, rngs: Any, *args: Any, **kwargs: Any) -> Any:
    """``model.init(rngs, *args, **kwargs)`` under ``jax.jit`` (positional args are traced)."""
    return _call(model, "init", rngs, *args, **kwargs)
