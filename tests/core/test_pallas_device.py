"""The fused kernels compiled for the default backend, at the workloads' sizes, against the scan.

On a GPU (``bench/gpu_check.sh`` runs this file there) the kernels are compiled by Pallas's Triton
backend (``interpret=False``) at the benchmark's sizes: the seed net's LIF layers (T = 8, batch 16)
and the Seq-MNIST net's CE-LIF and ALIF layers (T = 784, batch 32, 152 neurons). Spikes must be
bit-identical to the ``lax.scan`` reference and gradients equal to float32 rounding. On a CPU the
same checks run in interpret mode at small sizes (the full matrix is in ``test_lif_pallas.py`` and
``test_alif_ce_lif_pallas.py``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import neurons, surrogate

ON_GPU = jax.default_backend() == "gpu"
# (neuron, shape [T, B, ...])
CASES = [
    ("lif", (8, 16, 14, 14, 128) if ON_GPU else (4, 2, 3, 3, 8)),
    ("lif", (8, 16, 2048) if ON_GPU else (4, 2, 40)),
    ("alif", (784, 32, 152) if ON_GPU else (20, 2, 40)),
    ("ce_lif", (784, 32, 152) if ON_GPU else (20, 2, 40)),
]


def _normal(shape, seed, mean=0.0, std=1.0):
    return jnp.asarray(np.random.default_rng(seed).normal(mean, std, shape), jnp.float32)


def _neuron(kind, impl):
    if kind == "lif":
        return lambda x, te: neurons.lif(x, decay=0.5, decay_input=True, detach_reset=True,
                                         spike_fn=surrogate.sigmoid(4.0), impl=impl)[0]
    if kind == "alif":
        return lambda x, te: neurons.alif(x, decay=0.5, rho=0.95, beta=0.2, v_th=0.5,
                                          spike_fn=surrogate.atan(), impl=impl)[0]
    return lambda x, te: neurons.ce_lif(x, te, spike_fn=surrogate.boxcar(0.2), impl=impl)[0]


@pytest.mark.parametrize("kind,shape", CASES, ids=[f"{k}-{'x'.join(map(str, s))}" for k, s in CASES])
def test_compiled_kernel_matches_scan(kind, shape):
    x = _normal(shape, 0, 1.2, 1.0) if kind == "lif" else _normal(shape, 0, 0.4, 0.6)  # lif: h = (v + x) / 2
    te = _normal((shape[0], shape[-1]), 1, 0.0, 0.01)
    w = _normal(shape, 2)
    results = {}
    for impl in ("pallas", "scan"):
        f = _neuron(kind, impl)
        loss = lambda x, te: jnp.sum(f(x, te) * w)  # noqa: B023
        results[impl] = jax.jit(lambda x, te: (f(x, te), jax.grad(loss, (0, 1))(x, te)))(x, te)  # noqa: B023
    (s_p, g_p), (s_s, g_s) = results["pallas"], results["scan"]
    np.testing.assert_array_equal(np.asarray(s_p), np.asarray(s_s))
    assert 0.02 < float(jnp.mean(s_s)) < 0.98
    names = ["x", "te"] if kind == "ce_lif" else ["x"]
    for name, a, b in zip(names, g_p, g_s):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * scale, err_msg=f"d{name}")
