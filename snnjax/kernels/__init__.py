"""Fused kernels for the neurons, behind the same API as the ``lax.scan`` reference.

- :func:`lif_pallas`: multi-step LIF (and LLC-LIF, through ``snnjax.neurons.lif(..., impl="pallas")``)
  as one Pallas forward kernel and one Pallas backward kernel (a ``jax.custom_vjp``), each looping
  over time inside the kernel.

Status: correct in interpret mode (equal to the ``lax.scan`` reference in spikes, final state and
gradients, checked on CPU by ``tests/test_lif_pallas.py``); GPU speed not yet measured. Pallas's
Triton lowering is checked on CPU by lowering for CUDA; the kernels have not yet been compiled or
run on a GPU.
"""

from snnjax.kernels.lif_pallas import auto_block_size, lif_pallas

__all__ = ["auto_block_size", "lif_pallas"]
