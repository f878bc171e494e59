"""Fused kernels for the neurons, behind the same API as the ``lax.scan`` reference.

- :func:`lif_pallas`: multi-step LIF (and LLC-LIF, through ``snnjax.neurons.lif(..., impl="pallas")``);
- :func:`alif_pallas`: multi-step ALIF (``snnjax.neurons.alif(..., impl="pallas")``);
- :func:`ce_lif_pallas`: multi-step CE-LIF (``snnjax.neurons.ce_lif(..., impl="pallas")``);

each as one Pallas forward kernel and one Pallas backward kernel (a ``jax.custom_vjp``), looping
over time inside the kernel (:mod:`snnjax.kernels.common` holds what they share).

Status: correct in interpret mode (equal to the ``lax.scan`` reference in spikes, final state and
gradients, checked on CPU by ``tests/core/test_lif_pallas.py`` and ``tests/core/test_alif_ce_lif_pallas.py``);
GPU speed not yet measured. Pallas's Triton lowering is checked on CPU by lowering for CUDA; the
kernels have not yet been compiled or run on a GPU (``bench/gpu_check.sh`` does both).
"""

from snnjax.core.kernels.alif_pallas import alif_pallas
from snnjax.core.kernels.ce_lif_pallas import ce_lif_pallas
from snnjax.core.kernels.common import auto_block_size
from snnjax.core.kernels.lif_pallas import lif_pallas

__all__ = ["alif_pallas", "auto_block_size", "ce_lif_pallas", "lif_pallas"]
