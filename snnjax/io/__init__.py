"""Data and model exchange: datasets (``data``) and NIR export/import (``nir``). Imports from ``core``
and ``nn``.
"""
