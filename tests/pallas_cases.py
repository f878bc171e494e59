"""The shared case matrix and helpers of the Pallas kernel tests (LIF, ALIF, CE-LIF): shapes that pad
past the block size, the surrogates with a hyper-parameter each, the reset/detach/decay_input options,
and fast compilation of interpret-mode kernels."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from snnjax import surrogate

SHAPE_3D = (9, 3, 50)  # 150 neurons: blocks of 32, padded to 160
SHAPE_5D = (7, 2, 3, 5, 7)  # 210 neurons: padded to 224
SPIKE_FNS = {
    "sigmoid": surrogate.Sigmoid,
    "atan": surrogate.ATan,
    "boxcar": surrogate.Boxcar,
    "triangle": surrogate.Triangle,
    "bpsa": surrogate.BPSA,
}
THETA = {"sigmoid": 4.0, "atan": 2.0, "boxcar": 0.5, "triangle": 0.6, "bpsa": 1e-6}
CONFIGS = list(itertools.product(["hard", "soft"], [False, True], [False, True]))  # reset, detach, decay_input
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def normal(shape, seed, mean=0.0, std=1.0, dtype=jnp.float32):
    return jnp.asarray(np.random.default_rng(seed).normal(mean, std, shape), dtype)


def fast_jit(f, *args):
    """``jax.jit(f)(*args)``, compiled at XLA optimisation level 0 (interpret-mode kernels compile slowly)."""
    return jax.jit(f).lower(*args).compile(FAST_COMPILE)(*args)


def close(actual, expected, rtol=1e-5, name=""):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=name)


def cuda_triton_kernels(loss, x) -> int:
    """How many Triton kernels ``jax.grad(loss)`` at ``x`` lowers to for CUDA (no GPU needed to lower);
    skips the test where this jaxlib cannot lower for GPUs."""
    import pytest

    try:
        text = jax.jit(jax.grad(loss)).trace(x).lower(lowering_platforms=("cuda",)).as_text()
    except ImportError as e:  # a jaxlib built without GPU lowering support
        pytest.skip(f"no CUDA lowering here: {e}")
    return text.count("__gpu$xla.gpu.triton")
