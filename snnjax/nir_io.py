"""Deprecated: use :mod:`snnjax.nir` (``from snnjax.nir import export_nir, import_nir``).

The NIR exchange moved to the package :mod:`snnjax.nir` (``mapping``, ``export``, ``importing``).
This module re-exports its public names for one release and will then be removed. Two defaults
changed with the move: the time step is 1e-4 s (was 1) and the import fires on ``v > v_threshold``,
NIR's rule (was ``>=``); see :mod:`snnjax.nir.mapping`.
"""

import warnings

from snnjax.nir import *  # noqa: F403
from snnjax.nir import __all__  # noqa: F401

warnings.warn(
    "snnjax.nir_io is deprecated and will be removed in the next release; import from snnjax.nir",
    DeprecationWarning,
    stacklevel=2,
)
