"""The error classes raised across the package's layers, in one leaf module.

This module imports nothing from snnjax, so any layer (data, the input pipeline, the run
directory, validation) can raise these without importing the layers above it.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A config the training job cannot run; the message lists every problem and its fix."""


__all__ = ["ConfigError"]
