"""``"auto"`` implementation switches resolved by the platform JAX runs on.

Some layers have two implementations with the same values and gradients, one faster on CPU and one
elsewhere (``model.conv_impl``, ``model.max_pool_impl``); ``"auto"`` picks by
``jax.default_backend()`` at trace time.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax


def resolve(impl: str, choices: Sequence[str], *, cpu: str, accelerator: str, name: str) -> str:
    """``impl`` itself, or for ``"auto"`` ``cpu`` on the CPU backend and ``accelerator`` on others.

    Raises:
        ValueError: ``impl`` is not one of ``choices`` (the message names the config key ``name``).
    """
    if impl not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {impl!r}")
    if impl == "auto":
        return cpu if jax.default_backend() == "cpu" else accelerator
    return impl
