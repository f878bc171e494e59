"""The fused Pallas ALIF and CE-LIF (interpret mode on CPU) against their ``lax.scan`` references.

As ``tests/core/test_lif_pallas.py`` does for LIF: spikes bit-identical, final state equal to 1e-6 and
every gradient (input, TE, each part of the initial state, decay, ρ, β, threshold, surrogate
hyper-parameter) equal to the scan's autodiff to ~1e-5 relative, over reset × detach_reset ×
decay_input × surrogate (40 kernel configurations per neuron), each at BPTA α = 0 and 0.8, on a
[T, B, N] and a [T, B, H, W, C] input whose neuron counts are not multiples of the block size.
One ``jit`` per surrogate and neuron, compiled at XLA optimisation level 0 (interpret-mode kernels
compile slowly), with α traced so one compile serves both values.
"""


import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import neurons, surrogate
from snnjax.kernels import alif_pallas, ce_lif_pallas
from snnjax.layers import NeuronConfig, SpikingNeuron

from pallas_cases import CONFIGS, FAST_COMPILE, SHAPE_3D, SHAPE_5D, SPIKE_FNS, THETA
from pallas_cases import close as _close
from pallas_cases import cuda_triton_kernels
from pallas_cases import fast_jit as _fast_jit
from pallas_cases import normal as _normal


# --- ALIF -------------------------------------------------------------------------------------------

ALIF_GRADS = ["x", "v0", "eta0", "decay", "rho", "beta", "v_th", "theta"]


def _alif_run(impl, x, v0, eta0, decay, rho, beta, v_th, theta, alpha, kind, reset, detach, decay_input):
    """Spikes, final state, and the gradients of a random linear loss of all three."""
    ws, wv, we = _normal(x.shape, 11), _normal(x.shape[1:], 12), _normal(x.shape[1:], 13)

    def loss(x, v0, eta0, decay, rho, beta, v_th, theta):
        kw = {"decay": decay, "rho": rho, "beta": beta, "v_th": v_th, "spike_fn": SPIKE_FNS[kind](theta),
              "reset": reset, "detach_reset": detach, "bpta_alpha": alpha, "decay_input": decay_input}
        if impl == "pallas":
            s, v, eta = alif_pallas(x, v0=v0, eta0=eta0, **kw)
        else:
            s, state = neurons.alif(x, state=neurons.ALIFState(v0, eta0), **kw)
            v, eta = state
        return jnp.sum(s * ws) + jnp.sum(v * wv) + jnp.sum(eta * we), (s, v, eta)

    (_, out), grads = jax.value_and_grad(loss, argnums=range(8), has_aux=True)(
        x, v0, eta0, decay, rho, beta, v_th, theta)
    return out, grads


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(SPIKE_FNS))
def test_alif_matches_scan_over_the_configuration_matrix(kind):
    def both(alpha, x3, x5, v03, v05, e03, e05, decay, rho, beta, v_th, theta):
        out = []
        for reset, detach, decay_input in CONFIGS:
            x, v0, eta0 = (x5, v05, e05) if (reset == "soft") != detach else (x3, v03, e03)
            x = x / (1 - decay) if decay_input else x  # the same firing rate in both charge forms
            args = (x, v0, eta0, decay, rho, beta, v_th, theta, alpha, kind, reset, detach, decay_input)
            out.append((_alif_run("pallas", *args), _alif_run("scan", *args)))
        return out

    args = (
        _normal(SHAPE_3D, 0, 0.5, 0.7), _normal(SHAPE_5D, 1, 0.5, 0.7),
        _normal(SHAPE_3D[1:], 2, 0.2, 0.5), _normal(SHAPE_5D[1:], 3, 0.2, 0.5),
        jnp.abs(_normal(SHAPE_3D[1:], 4, 0.0, 0.3)), jnp.abs(_normal(SHAPE_5D[1:], 5, 0.0, 0.3)),
        jnp.float32(0.8), jnp.float32(0.9),
        jnp.float32(0.4), jnp.float32(0.8), jnp.float32(THETA[kind]),
    )
    def check(pallas, scan, label, reset):
        ((s_p, v_p, e_p), g_p), ((s_s, v_s, e_s), g_s) = pallas, scan
        np.testing.assert_array_equal(np.asarray(s_p), np.asarray(s_s), err_msg=label)
        assert 0.05 < float(jnp.mean(s_s)) < 0.95, label  # the case exercises both branches
        for a, b in [(v_p, v_s), (e_p, e_s)]:
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6, err_msg=label)
        for name, a, b in zip(ALIF_GRADS, g_p, g_s):
            _close(a, b, name=f"d{name}: {label}")
        assert float(jnp.abs(g_s[0]).max()) > 0, label
        # β learns through the threshold's gradient, which BPSA does not give, or the soft reset
        assert (float(jnp.abs(g_s[5]).max()) > 0) == (kind != "bpsa" or reset == "soft"), label

    _check_configuration_matrix(f"alif {kind}", both, args, check)


def _check_configuration_matrix(name, both, args, check):
    """Compiles ``both(alpha, *args)`` (per configuration of :data:`CONFIGS`, the Pallas and the scan
    run's ``(outputs, gradients)``) once, runs it at α = 0 and 0.8, calls ``check(pallas, scan, label,
    reset)`` on every configuration, and checks that α reaches the backward kernel (the input
    gradient changes with it)."""
    compiled = jax.jit(both).lower(jnp.float32(0.0), *args).compile(FAST_COMPILE)
    dx = {}
    for alpha in (0.0, 0.8):
        results = compiled(jnp.float32(alpha), *args)
        dx[alpha] = [pallas[1][0] for pallas, _ in results]
        for (reset, detach, decay_input), (pallas, scan) in zip(CONFIGS, results):
            check(pallas, scan, f"{name} reset={reset} detach={detach} decay_input={decay_input} alpha={alpha}", reset)
    for config, g0, g8 in zip(CONFIGS, dx[0.0], dx[0.8]):
        assert float(jnp.abs(g8 - g0).max()) > 1e-3, config


# --- CE-LIF -----------------------------------------------------------------------------------------

CE_LIF_GRADS = ["x", "te", "v0", "u0", "theta0", "decay", "rho", "v_th", "theta"]


def _ce_lif_run(impl, x, te, v0, u0, th0, decay, rho, v_th, theta, alpha, kind, reset, detach, decay_input):
    ws = _normal(x.shape, 21)
    wv, wu, wt = (_normal(x.shape[1:], seed) for seed in (22, 23, 24))

    def loss(x, te, v0, u0, th0, decay, rho, v_th, theta):
        kw = {"decay": decay, "rho": rho, "v_th": v_th, "spike_fn": SPIKE_FNS[kind](theta),
              "reset": reset, "detach_reset": detach, "bpta_alpha": alpha, "decay_input": decay_input}
        if impl == "pallas":
            s, v, u, th = ce_lif_pallas(x, te, v0=v0, u0=u0, theta0=th0, **kw)
        else:
            s, state = neurons.ce_lif(x, te, state=neurons.CELIFState(v0, u0, th0), **kw)
            v, u, th = state
        return jnp.sum(s * ws) + jnp.sum(v * wv) + jnp.sum(u * wu) + jnp.sum(th * wt), (s, v, u, th)

    (_, out), grads = jax.value_and_grad(loss, argnums=range(9), has_aux=True)(
        x, te, v0, u0, th0, decay, rho, v_th, theta)
    return out, grads


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(SPIKE_FNS))
def test_ce_lif_matches_scan_over_the_configuration_matrix(kind):
    def both(alpha, x3, x5, te3, te5, s3, s5, decay, rho, v_th, theta):
        out = []
        for reset, detach, decay_input in CONFIGS:
            # [T, B, N] with TE [T, N] (the Seq-MNIST net's), [T, B, H, W, C] with TE [T, C]
            x, te, state = (x5, te5, s5) if (reset == "soft") != detach else (x3, te3, s3)
            x = x / (1 - decay) if decay_input else x
            args = (x, te, *state, decay, rho, v_th, theta, alpha, kind, reset, detach, decay_input)
            out.append((_ce_lif_run("pallas", *args), _ce_lif_run("scan", *args)))
        return out

    def state(shape, seed):
        return (_normal(shape, seed, 0.1, 0.3), _normal(shape, seed + 1, 0.3, 0.3), _normal(shape, seed + 2, 0.5, 0.1))

    args = (
        _normal(SHAPE_3D, 0, 0.5, 0.5), _normal(SHAPE_5D, 1, 0.5, 0.5),
        _normal((SHAPE_3D[0], SHAPE_3D[-1]), 2, 0.0, 0.3), _normal((SHAPE_5D[0], SHAPE_5D[-1]), 3, 0.0, 0.3),
        state(SHAPE_3D[1:], 4), state(SHAPE_5D[1:], 7),
        jnp.float32(0.6), jnp.float32(0.9), jnp.float32(0.5), jnp.float32(THETA[kind]),
    )
    def check(pallas, scan, label, reset):
        (out_p, g_p), (out_s, g_s) = pallas, scan
        np.testing.assert_array_equal(np.asarray(out_p[0]), np.asarray(out_s[0]), err_msg=label)
        assert 0.05 < float(jnp.mean(out_s[0])) < 0.95, label
        for a, b in zip(out_p[1:], out_s[1:]):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6, err_msg=label)
        for name, a, b in zip(CE_LIF_GRADS, g_p, g_s):
            _close(a, b, name=f"d{name}: {label}")
        assert g_p[1].shape == (out_s[0].shape[0], out_s[0].shape[-1]), label  # TE's own shape
        assert float(jnp.abs(g_s[0]).max()) > 0 and float(jnp.abs(g_s[1]).max()) > 0, label

    _check_configuration_matrix(f"ce_lif {kind}", both, args, check)


# --- through the public API and the layer ------------------------------------------------------------


@pytest.mark.slow
def test_rest_state_defaults_and_bfloat16_input():
    """No state given: rest (θ₀ = v_th for CE-LIF, its gradient through the initial θ too); a
    bfloat16 input keeps bfloat16 spikes and gradients while the float32 state stays float32."""
    x = _normal(SHAPE_3D, 30, 0.5, 0.5)
    te = _normal((SHAPE_3D[0], SHAPE_3D[-1]), 31, 0.0, 0.3)
    ws = _normal(x.shape, 32)

    def losses(x, te, v_th):
        out = []
        for impl in ("pallas", "scan"):
            ce = lambda x, te, v_th: jnp.sum(neurons.ce_lif(x, te, v_th=v_th, impl=impl)[0] * ws)
            al = lambda x, v_th: jnp.sum(neurons.alif(x, v_th=v_th, beta=0.4, rho=0.8, impl=impl)[0] * ws)
            out.append((jax.grad(ce, (0, 1, 2))(x, te, v_th), jax.grad(al, (0, 1))(x, v_th)))
        return out

    (ce_p, al_p), (ce_s, al_s) = _fast_jit(losses, x, te, jnp.float32(0.4))
    for a, b in zip(ce_p + al_p, ce_s + al_s):
        _close(a, b)

    xb = x.astype(jnp.bfloat16)
    f32 = neurons.ce_lif_init_state(SHAPE_3D[1:], 0.4, jnp.float32)

    def run(xb):
        out = []
        for impl in ("pallas", "scan"):
            f = lambda xb: neurons.ce_lif(xb, te, v_th=0.4, state=f32, impl=impl)
            (s, st), vjp = jax.vjp(f, xb)
            out.append((s, st, vjp((ws.astype(jnp.bfloat16), jax.tree.map(jnp.zeros_like, st)))[0]))
        return out

    (s_p, st_p, g_p), (s_s, st_s, g_s) = _fast_jit(run, xb)
    chex.assert_type([s_p, g_p], jnp.bfloat16)
    chex.assert_type(list(st_p), jnp.float32)
    np.testing.assert_array_equal(np.asarray(s_p, np.float32), np.asarray(s_s, np.float32))
    _close(st_p.theta, st_s.theta)
    _close(g_p, g_s, rtol=1e-2)  # rounded to bfloat16 once, at the end


@pytest.mark.slow
def test_jit_vmap_grad_and_one_step():
    te = _normal((1, 20), 40, 0.0, 0.3)
    x1 = _normal((1, 3, 20), 41, 0.5, 0.7)  # T = 1: an empty backward loop
    x5 = _normal((5, 3, 20), 42, 0.5, 0.7)
    xs = jnp.stack([x5, 1.5 * x5], axis=1)  # a vmapped axis after time

    def f(x, impl):
        s_a, _ = neurons.alif(x, decay=0.7, beta=0.5, rho=0.9, v_th=0.8, spike_fn=surrogate.triangle(0.5),
                              bpta_alpha=0.2, impl=impl)
        s_c, _ = neurons.ce_lif(x, jnp.broadcast_to(te, (x.shape[0], 20)), impl=impl)
        return s_a, s_c

    def run(x1, xs):
        out = []
        for impl in ("pallas", "scan"):
            loss = lambda x: sum(jnp.sum(s * x) for s in f(x, impl))
            vmapped = jax.vmap(lambda z: f(z, impl), in_axes=1, out_axes=1)(xs)
            g_v = jax.vmap(jax.grad(loss), in_axes=1, out_axes=1)(xs)
            out.append((f(x1, impl), jax.grad(loss)(x1), vmapped, g_v))
        return out

    pallas, scan = _fast_jit(run, x1, xs)
    for name, a, b in zip(["spikes T=1", "grad T=1", "vmapped spikes", "vmapped grad"], pallas, scan):
        chex.assert_trees_all_close(a, b, atol=1e-5, rtol=1e-5, custom_message=name)


@pytest.mark.slow
def test_spiking_neuron_layer_impl_switch():
    """``config.model.neuron.impl = "pallas"`` reaches ALIF and CE-LIF layers: same spikes, same grads."""
    x = _normal((6, 4, 12), 50, 0.6, 0.6)
    te = _normal((6, 12), 51, 0.0, 0.2)

    def run(x, te):
        out = []
        for kind in ("alif", "ce_lif"):
            for impl in ("pallas", "scan"):
                beta = {"beta": 0.3} if kind == "alif" else {}  # CE-LIF reads no beta (refused if set)
                layer = SpikingNeuron(NeuronConfig(kind=kind, impl=impl, v_th=0.5, surrogate="atan", **beta))
                loss = lambda x, te: jnp.sum(layer.apply({}, x, te=te) * x)
                out.append((layer.apply({}, x, te=te), jax.grad(loss, (0, 1))(x, te)))
        return out

    results = _fast_jit(run, x, te)
    for (s_p, g_p), (s_s, g_s) in [results[:2], results[2:]]:
        np.testing.assert_array_equal(np.asarray(s_p), np.asarray(s_s))
        assert 0.05 < float(jnp.mean(s_s)) < 0.95
        _close(g_p[0], g_s[0])
        _close(g_p[1], g_s[1])


@pytest.mark.parametrize("which", ["alif", "ce_lif"])
def test_lowers_to_triton_for_cuda(which):
    """Pallas's Triton lowering runs at lowering time: a cross-platform lowering for CUDA checks it."""
    x = jnp.ones((16, 4, 150), jnp.bfloat16)
    te = jnp.zeros((16, 150), jnp.float32)

    def loss(x):
        kw = dict(spike_fn=surrogate.atan(), reset="soft", decay_input=True, bpta_alpha=0.8, interpret=False)
        out = alif_pallas(x, **kw) if which == "alif" else ce_lif_pallas(x, te, **kw)
        return sum(jnp.sum(a.astype(jnp.float32)) for a in out)

    assert cuda_triton_kernels(loss, x) == 2  # one forward kernel, one backward kernel


def test_bad_arguments():
    x = jnp.ones((3, 4))
    with pytest.raises(ValueError, match="impl must be one of"):
        neurons.alif(x, impl="cuda")
    with pytest.raises(ValueError, match="impl must be one of"):
        neurons.ce_lif(x, jnp.ones((3, 4)), impl="cuda")
    custom = surrogate.from_primitive(lambda z: jax.nn.sigmoid(3 * z))
    with pytest.raises(ValueError, match="scan"):
        neurons.alif(x, spike_fn=custom, impl="pallas")
    with pytest.raises(ValueError, match="one row per time step"):
        ce_lif_pallas(x, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="power of two"):
        alif_pallas(x, block_size=48)
