"""Flax layers and models built on :mod:`snnjax.core`: Linen (``layers``, ``models``, ``monitor``)
and NNX (``nnx``). Imports only from ``core``.
"""
