"""Headless matplotlib for the figures of ``snnjax.report`` and ``snnjax.reproduce``.

matplotlib is an optional dependency (``pip install 'snnjax[report]'``). Commands whose end draws
figures call :func:`require_matplotlib` first, so a missing install is one clear line before any
work, not a traceback after hours of training.
"""

from __future__ import annotations

import importlib.util

MISSING_MATPLOTLIB = ("drawing figures needs matplotlib, which is not installed: "
                      "pip install 'snnjax[report]' (or pip install matplotlib)")


def require_matplotlib() -> None:
    """Raises ``ImportError`` saying what to install when matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError(MISSING_MATPLOTLIB)


def pyplot():
    """``matplotlib.pyplot`` on the headless Agg backend; a clear ``ImportError`` when it is missing."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
