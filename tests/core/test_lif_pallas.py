"""The fused Pallas LIF (interpret mode on CPU) against the ``lax.scan`` reference.

Spikes must be bit-identical, the final membrane equal to 1e-6 and every gradient (input, initial
membrane, decay, threshold, surrogate hyper-parameter) equal to the scan's autodiff to ~1e-5
relative, over reset × detach_reset × decay_input × surrogate (40 kernel configurations), each at
BPTA α = 0 and 0.8, on a [T, B, N] and a [T, B, H, W, C] input whose neuron counts are not
multiples of the block size.

Interpret-mode kernels are slow to compile, so the 8 configurations of one surrogate share one
``jit`` compiled at XLA backend optimisation level 0, and α is a traced argument (one compile serves
both values). The tests of ``neurons.lif(impl="pallas")`` at the bottom use ordinary ``jax.jit``.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import neurons, surrogate
from snnjax.kernels import auto_block_size, lif_pallas

from pallas_cases import CONFIGS, FAST_COMPILE, SHAPE_3D, SHAPE_5D, SPIKE_FNS, THETA
from pallas_cases import close as _close
from pallas_cases import cuda_triton_kernels
from pallas_cases import fast_jit as _fast_jit
from pallas_cases import normal as _normal


def _run(impl, x, v0, decay, v_th, theta, alpha, kind, reset, detach, decay_input):
    """Spikes, final membrane, and the gradients of a random linear loss of both."""
    ws = _normal(x.shape, 11)
    wv = _normal(x.shape[1:], 12)

    def loss(x, v0, decay, v_th, theta):
        kw = {"decay": decay, "v_th": v_th, "spike_fn": SPIKE_FNS[kind](theta), "reset": reset,
              "detach_reset": detach, "bpta_alpha": alpha, "decay_input": decay_input}
        if impl == "pallas":
            s, v = lif_pallas(x, v0=v0, **kw)
        else:
            s, state = neurons.lif(x, state=neurons.LIFState(v0), **kw)
            v = state.v
        return jnp.sum(s * ws) + jnp.sum(v * wv), (s, v)

    (_, (s, v)), grads = jax.value_and_grad(loss, argnums=range(5), has_aux=True)(x, v0, decay, v_th, theta)
    return s, v, grads


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(SPIKE_FNS))
def test_matches_scan_over_the_configuration_matrix(kind):
    def both(alpha, x3, x5, v03, v05, decay, v_th, theta):
        out = []
        for reset, detach, decay_input in CONFIGS:
            # each reset and each detach setting sees both layouts
            x, v0 = (x5, v05) if (reset == "soft") != detach else (x3, v03)
            x = x / (1 - decay) if decay_input else x  # h = k v + (1 - k) x: same firing rate
            args = (x, v0, decay, v_th, theta, alpha, kind, reset, detach, decay_input)
            out.append((_run("pallas", *args), _run("scan", *args)))
        return out

    args = (
        _normal(SHAPE_3D, 0, 0.5, 0.7), _normal(SHAPE_5D, 1, 0.5, 0.7),
        _normal(SHAPE_3D[1:], 2, 0.2, 0.5), _normal(SHAPE_5D[1:], 3, 0.2, 0.5),
        jnp.float32(0.8), jnp.float32(0.9), jnp.float32(THETA[kind]),
    )
    compiled = jax.jit(both).lower(jnp.float32(0.0), *args).compile(FAST_COMPILE)
    dx = {}
    for alpha in (0.0, 0.8):
        results = compiled(jnp.float32(alpha), *args)
        dx[alpha] = [pallas[2][0] for pallas, _ in results]
        for (reset, detach, decay_input), (pallas, scan) in zip(CONFIGS, results):
            label = f"{kind} reset={reset} detach={detach} decay_input={decay_input} alpha={alpha}"
            (s_p, v_p, g_p), (s_s, v_s, g_s) = pallas, scan
            np.testing.assert_array_equal(np.asarray(s_p), np.asarray(s_s), err_msg=label)
            assert 0.05 < float(jnp.mean(s_s)) < 0.95, label  # the case exercises both branches
            np.testing.assert_allclose(np.asarray(v_p), np.asarray(v_s), rtol=1e-6, atol=1e-6, err_msg=label)
            for name, a, b in zip(["x", "v0", "decay", "v_th", "theta"], g_p, g_s):
                _close(a, b, name=f"d{name}: {label}")
            assert float(jnp.abs(g_s[0]).max()) > 0, label
    # α reaches the backward kernel: it changes the input gradient of every configuration
    for config, g0, g8 in zip(CONFIGS, dx[0.0], dx[0.8]):
        assert float(jnp.abs(g8 - g0).max()) > 1e-3, config


@pytest.mark.slow
def test_per_channel_and_per_neuron_decay():
    """LLC-LIF's per-channel leak through ``llc_lif(..., impl=...)`` and a full per-neuron decay."""
    x = _normal(SHAPE_5D, 4, 0.5, 0.7)
    v0 = _normal(SHAPE_5D[1:], 5, 0.2, 0.5)
    a = _normal(SHAPE_5D[-1:], 6)
    decay = jax.nn.sigmoid(_normal(SHAPE_5D[1:], 7, 1.0))
    ws = _normal(x.shape, 8)

    def llc(impl, x, a, v0):
        s, state = neurons.llc_lif(x, a, state=neurons.LIFState(v0), reset="soft", bpta_alpha=0.8,
                                   decay_input=True, spike_fn=surrogate.atan(), impl=impl)
        return jnp.sum(s * ws) + jnp.sum(state.v), s

    def full(impl, x, decay, v0):
        s, state = neurons.lif(x, decay=decay, v_th=0.9, state=neurons.LIFState(v0), impl=impl)
        return jnp.sum(s * ws) + jnp.sum(jnp.square(state.v)), s

    def grads(x, a, decay, v0):
        return [jax.value_and_grad(functools.partial(f, impl), argnums=(0, 1, 2), has_aux=True)(x, p, v0)
                for f, p in [(llc, a), (full, decay)] for impl in ["pallas", "scan"]]

    results = _fast_jit(grads, x, a, decay, v0)
    for f, p, ((_, s_p), g_p), ((_, s_s), g_s) in [(llc, a, *results[:2]), (full, decay, *results[2:])]:
        np.testing.assert_array_equal(np.asarray(s_p), np.asarray(s_s))
        chex.assert_shape(g_p[1], p.shape)
        for name, g1, g2 in zip(["x", "decay", "v0"], g_p, g_s):
            _close(g1, g2, name=f"{f.__name__} d{name}")


def test_bfloat16_input_float32_membrane():
    x = _normal(SHAPE_3D, 9, 0.5, 0.7, jnp.bfloat16)
    f32_state = neurons.lif_init_state(SHAPE_3D[1:], jnp.float32)
    ws = _normal(x.shape, 10, dtype=jnp.bfloat16)

    def loss(impl, x, state):
        s, state = neurons.lif(x, decay=0.8, v_th=0.9, state=state, reset="soft", impl=impl)
        return jnp.sum((s * ws).astype(jnp.float32)), (s, state)

    def run(x):
        return [jax.value_and_grad(functools.partial(loss, impl, state=f32_state), has_aux=True)(x)
                for impl in ["pallas", "scan"]]

    ((_, (s_p, st_p)), g_p), ((_, (s_s, st_s)), g_s) = _fast_jit(run, x)
    chex.assert_type([s_p, g_p], jnp.bfloat16)
    chex.assert_type(st_p.v, jnp.float32)
    np.testing.assert_array_equal(np.asarray(s_p, np.float32), np.asarray(s_s, np.float32))
    _close(st_p.v, st_s.v)
    _close(g_p, g_s, rtol=1e-2)  # the gradient is rounded to bfloat16 once, at the end
    # Without a state the membrane is still float32 inside, returned in the input's dtype.
    s_b, st_b = _fast_jit(lambda x: neurons.lif(x, decay=0.8, v_th=0.9, reset="soft", impl="pallas"), x)
    chex.assert_type([s_b, st_b.v], jnp.bfloat16)
    np.testing.assert_array_equal(np.asarray(s_b, np.float32), np.asarray(s_p, np.float32))


@pytest.mark.slow
def test_jit_vmap_grad_through_lif():
    f = lambda x, impl: neurons.lif(x, decay=0.7, v_th=0.8, spike_fn=surrogate.triangle(0.5),
                                    bpta_alpha=0.2, impl=impl)
    x = _normal((5, 3, 20), 13, 0.5, 0.7)
    xs = jnp.stack([x, 1.5 * x], axis=1)  # a vmapped axis after time
    vmapped = lambda impl: jax.vmap(lambda z: f(z, impl), in_axes=1, out_axes=1)(xs)
    chex.assert_trees_all_close(jax.jit(vmapped, static_argnums=0)("pallas"), vmapped("scan"), atol=1e-6)
    loss = lambda x, impl: jnp.sum(f(x, impl)[0] * x)
    g = jax.jit(jax.grad(loss), static_argnums=1)(x, "pallas")
    _close(g, jax.grad(loss)(x, "scan"))
    g_v = jax.vmap(jax.grad(loss), in_axes=(1, None), out_axes=1)(xs, "pallas")
    _close(g_v, jax.vmap(jax.grad(loss), in_axes=(1, None), out_axes=1)(xs, "scan"))


@pytest.mark.slow
def test_edges_of_time_and_blocks():
    """One step (an empty backward loop), an exact multiple of the block, several padded blocks."""
    cases = [(1, 7, 32), (4, 64, 32), (4, 150, 128)]  # (T, N, block)

    def pallas(x, v0, block):
        return lif_pallas(x, decay=0.6, v0=v0, reset="soft", block_size=block)

    def scan(x, v0, block):
        s, state = neurons.lif(x, decay=0.6, state=neurons.LIFState(v0), reset="soft")
        return s, state.v

    def run(inputs):
        out = []
        for (x, v0), (_, _, block) in zip(inputs, cases):
            for f in (pallas, scan):
                run_one = functools.partial(f, block=block)
                loss = lambda x, v0, run_one=run_one: jnp.sum(run_one(x, v0)[0] * x) + jnp.sum(run_one(x, v0)[1])
                out.append((run_one(x, v0)[0], jax.grad(loss, (0, 1))(x, v0)))
        return out

    inputs = [(_normal((t, n), 14, 0.9, 0.7), _normal((n,), 15)) for t, n, _ in cases]
    results = _fast_jit(run, inputs)
    for case, (s_p, g_p), (s_s, g_s) in zip(cases, results[::2], results[1::2]):
        np.testing.assert_array_equal(np.asarray(s_p), np.asarray(s_s), err_msg=str(case))
        for a, b in zip(g_p, g_s):
            _close(a, b, name=str(case))


def test_spike_at_exactly_the_threshold():
    """design.md: a spike is ``h >= v_th`` (H(0) = 1); here h = 0·k + x = v_th exactly."""
    x = jnp.asarray([[0.5, 0.25, 0.75]], jnp.float32)
    s, v = _fast_jit(lambda x: lif_pallas(x, decay=0.5, v_th=0.5), x)
    np.testing.assert_array_equal(np.asarray(s), [[1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(np.asarray(v), [0.0, 0.25, 0.0])


@pytest.mark.parametrize("spike_fn", [surrogate.atan(), surrogate.bpsa()])
def test_lowers_to_triton_for_cuda(spike_fn):
    """No GPU needed: Pallas's Triton lowering (power-of-two tensor sizes, supported primitives) runs
    at lowering time, so a cross-platform lowering for CUDA checks it. Compiling the Triton IR to PTX
    and running it still need a GPU."""
    x = jnp.ones((16, 4, 150), jnp.bfloat16)

    def loss(x):
        s, v = lif_pallas(x, decay=0.8, spike_fn=spike_fn, reset="soft", decay_input=True,
                          bpta_alpha=0.8, interpret=False)
        return jnp.sum(s.astype(jnp.float32)) + jnp.sum(v.astype(jnp.float32))

    assert cuda_triton_kernels(loss, x) == 2  # one forward kernel, one backward kernel


def test_bad_arguments():
    x = jnp.ones((3, 4))
    with pytest.raises(ValueError, match="impl must be one of"):
        neurons.lif(x, decay=0.5, impl="cuda")
    with pytest.raises(ValueError, match="scan"):
        custom = surrogate.from_primitive(lambda z: jax.nn.sigmoid(3 * z))
        neurons.lif(x, decay=0.5, spike_fn=custom, impl="pallas")
    with pytest.raises(ValueError, match="power of two"):
        lif_pallas(x, decay=0.5, block_size=48)
    assert auto_block_size(38912) == 128 and auto_block_size(150) == 32
