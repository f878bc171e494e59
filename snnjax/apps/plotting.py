"""Headless matplotlib for the figures of ``snnjax.report`` and ``snnjax.reproduce``, in one style.

matplotlib is an optional dependency (``pip install 'snnjax[report]'``). Commands whose end draws
figures call :func:`require_matplotlib` first, so a missing install is one clear line before any
work, not a traceback after hours of training.

Figures drawn inside :func:`styled` share one look (font sizes, light grid, no top/right frame, a
colour-blind-safe cycle), and :func:`save_figure` writes each one twice: a PNG for the page and a
vector SVG beside it for a paper.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path

MISSING_MATPLOTLIB = ("drawing figures needs matplotlib, which is not installed: "
                      "pip install 'snnjax[report]' (or pip install matplotlib)")

# Okabe & Ito (2008) colour-blind-safe palette, black first skipped (black is for spikes)
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")

STYLE = {
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "svg.hashsalt": "snnjax",  # the same figure gives the same SVG file
}

PNG_DPI = 150


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


@contextlib.contextmanager
def styled() -> Iterator:
    """``pyplot`` with :data:`STYLE` and the :data:`COLOURS` cycle in force inside the block."""
    plt = pyplot()
    from cycler import cycler

    with plt.rc_context({**STYLE, "axes.prop_cycle": cycler(color=COLOURS)}):
        yield plt


def save_figure(fig, png: Path) -> tuple[Path, Path]:
    """Writes ``fig`` as ``png`` and as a vector SVG beside it (same stem), closes it, and returns both paths.

    Both files carry no date, so a figure redrawn from the same data is the same file.
    """
    plt = pyplot()
    svg = png.with_suffix(".svg")
    fig.tight_layout()
    fig.savefig(png, dpi=PNG_DPI, metadata={"Software": None})
    fig.savefig(svg, metadata={"Date": None})
    plt.close(fig)
    return png, svg
