"""Spike functions: Heaviside forward, and each backward pass against its hand-written formula."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import surrogate

X = np.array([-1.3, -0.6, -0.25, -0.11, -0.01, 0.0, 0.01, 0.09, 0.3, 0.7, 2.0])


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# g'(x) written out by hand from each surrogate's definition (not from snnjax).
HAND_DERIVATIVES = {
    "sigmoid": (surrogate.sigmoid(alpha=4.0), lambda x: 4.0 * _sigmoid(4.0 * x) * (1 - _sigmoid(4.0 * x))),
    "atan": (surrogate.atan(alpha=2.0), lambda x: 1.0 / (1 + (math.pi * x) ** 2)),
    "boxcar": (surrogate.boxcar(width=0.2), lambda x: np.where(np.abs(x) < 0.1, 5.0, 0.0)),
    "triangle": (surrogate.triangle(width=0.5), lambda x: np.maximum(0.0, 1 - np.abs(x) / 0.5) / 0.5),
    # the peers' (snnTorch fast_sigmoid, Spyx superspike, SpikingJelly PiecewiseQuadratic/Erf/SoftSign, STE)
    "fast_sigmoid": (surrogate.fast_sigmoid(slope=25.0), lambda x: 1 / (1 + 25.0 * np.abs(x)) ** 2),
    "superspike": (surrogate.superspike(k=10.0), lambda x: 1 / (1 + 10.0 * np.abs(x)) ** 2),
    "piecewise_quadratic": (surrogate.piecewise_quadratic(alpha=2.0), lambda x: np.where(np.abs(x) <= 0.5, 2.0 - 4.0 * np.abs(x), 0.0)),
    "erf": (surrogate.erf(alpha=2.0), lambda x: 2.0 / math.sqrt(math.pi) * np.exp(-4.0 * x ** 2)),
    "soft_sign": (surrogate.soft_sign(alpha=2.0), lambda x: 2.0 / (2 * (1 + np.abs(2.0 * x)) ** 2)),
    "straight_through": (surrogate.straight_through(), lambda x: np.ones_like(x)),
}


@pytest.mark.parametrize("name", sorted(HAND_DERIVATIVES))
def test_forward_is_heaviside_with_spike_at_threshold(name):
    spike_fn, _ = HAND_DERIVATIVES[name]
    v_th = 0.5
    u = jnp.asarray(X + v_th, jnp.float32)
    s = spike_fn(u, v_th)
    np.testing.assert_array_equal(np.asarray(s), (X >= 0).astype(np.float32))
    assert float(spike_fn(jnp.float32(0.5), 0.5)) == 1.0  # u == v_th fires


@pytest.mark.parametrize("name", sorted(HAND_DERIVATIVES))
def test_gradient_matches_hand_formula(name):
    spike_fn, hand = HAND_DERIVATIVES[name]
    v_th = 0.5
    u = jnp.asarray(X + v_th, jnp.float32)
    du = jax.grad(lambda u: jnp.sum(spike_fn(u, v_th) * jnp.arange(1.0, 12.0)))(u)
    np.testing.assert_allclose(np.asarray(du), hand(X) * np.arange(1.0, 12.0), rtol=1e-5, atol=1e-6)
    # The threshold receives the opposite gradient (adaptive thresholds learn through it).
    dv = jax.grad(lambda v: jnp.sum(spike_fn(u, v)))(jnp.float32(v_th))
    np.testing.assert_allclose(float(dv), -hand(X).sum(), rtol=1e-5)


@pytest.mark.parametrize("name", sorted(HAND_DERIVATIVES))
def test_gradient_is_derivative_of_smooth_primitive_float64(name):
    spike_fn, hand = HAND_DERIVATIVES[name]
    with jax.enable_x64(True):
        xs = np.array([-0.7, -0.2, -0.05, 0.03, 0.15, 0.45, 1.1])  # away from kinks
        eps = 1e-6
        fd = (np.asarray(spike_fn.primitive(jnp.asarray(xs + eps))) - np.asarray(spike_fn.primitive(jnp.asarray(xs - eps)))) / (2 * eps)
        np.testing.assert_allclose(fd, hand(xs), rtol=1e-6, atol=1e-8)
        du = jax.vmap(jax.grad(lambda x: spike_fn(x, 0.0)))(jnp.asarray(xs))
        np.testing.assert_allclose(np.asarray(du), hand(xs), rtol=1e-10, atol=1e-12)


def test_hyper_parameter_gradient_is_primitive_derivative():
    # d/dα of σ(αx) = x σ(αx)(1-σ(αx)); the sigmoid surrogate's α is learnable through it.
    x = np.array([-0.4, 0.1, 0.3])
    grad_alpha = jax.grad(lambda a: jnp.sum(surrogate.sigmoid(a)(jnp.asarray(x, jnp.float32), 0.0)))(jnp.float32(3.0))
    expected = np.sum(x * _sigmoid(3.0 * x) * (1 - _sigmoid(3.0 * x)))
    np.testing.assert_allclose(float(grad_alpha), expected, rtol=1e-5)
    # boxcar: d/da of (x/a + 1/2) = -x/a² inside the window, 0 outside.
    grad_w = jax.grad(lambda w: jnp.sum(surrogate.boxcar(w)(jnp.asarray(x, jnp.float32), 0.0)))(jnp.float32(0.7))
    np.testing.assert_allclose(float(grad_w), -(0.1 + 0.3) / 0.49, rtol=1e-5)  # x=-0.4 lies outside |x| < 0.35


def test_bpsa_gradient_is_reciprocal_membrane_where_fired():
    u = jnp.array([0.2, 0.49, 0.5, 0.8, 2.5], jnp.float32)
    s, vjp = jax.vjp(lambda u: surrogate.bpsa()(u, 0.5), u)
    np.testing.assert_array_equal(np.asarray(s), [0, 0, 1, 1, 1])
    (du,) = vjp(jnp.ones(5, jnp.float32))
    np.testing.assert_allclose(np.asarray(du), [0, 0, 1 / 0.5, 1 / 0.8, 1 / 2.5], rtol=1e-6)
    assert float(jax.grad(lambda v: jnp.sum(surrogate.bpsa()(u, v)))(jnp.float32(0.5))) == 0.0


def test_bpsa_guards_division_at_zero_threshold():
    u = jnp.array([0.0, -1e-9, 1e-9, -0.5], jnp.float32)
    du = jax.grad(lambda u: jnp.sum(surrogate.bpsa(eps=1e-3)(u, 0.0)))(u)
    assert np.all(np.isfinite(np.asarray(du)))
    np.testing.assert_allclose(np.asarray(du), [1e3, 0.0, 1e3, 0.0], rtol=1e-5)


ALL = [surrogate.sigmoid(), surrogate.atan(), surrogate.boxcar(0.4), surrogate.triangle(), surrogate.bpsa(),
       surrogate.fast_sigmoid(), surrogate.piecewise_quadratic(), surrogate.erf(), surrogate.soft_sign(),
       surrogate.straight_through(), surrogate.strict(surrogate.atan())]


@pytest.mark.parametrize("spike_fn", ALL, ids=lambda f: type(f).__name__)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_contract_jit_vmap_grad_dtypes(spike_fn, dtype, key):
    u = jax.random.normal(key, (3, 4, 5)).astype(dtype) + 1.0
    f = lambda u: spike_fn(u, 1.0)
    s = f(u)
    chex.assert_shape(s, (3, 4, 5))
    chex.assert_type(s, dtype)
    assert set(np.unique(np.asarray(s, np.float32))) <= {0.0, 1.0}
    chex.assert_trees_all_equal(jax.jit(f)(u), s)
    chex.assert_trees_all_equal(jax.vmap(f)(u), s)
    g = jax.grad(lambda u: jnp.sum(f(u).astype(jnp.float32)))(u)
    chex.assert_type(g, dtype)
    assert np.all(np.isfinite(np.asarray(g, np.float32)))
    chex.assert_trees_all_close(jax.jit(jax.grad(lambda u: jnp.sum(f(u).astype(jnp.float32))))(u), g)


def test_hyper_parameters_are_vmappable_pytree_leaves():
    x = jnp.linspace(-1.0, 1.0, 9)
    alphas = jnp.array([1.0, 4.0, 10.0])
    grads = jax.jit(jax.vmap(lambda fn: jax.grad(lambda x: jnp.sum(fn(x, 0.0)))(x)))(surrogate.Sigmoid(alphas))
    chex.assert_shape(grads, (3, 9))
    for i, a in enumerate([1.0, 4.0, 10.0]):
        np.testing.assert_allclose(np.asarray(grads[i]), a * _sigmoid(a * np.asarray(x)) * (1 - _sigmoid(a * np.asarray(x))), rtol=1e-5, atol=1e-7)


def test_registry_by_name():
    assert isinstance(surrogate.get("boxcar", width=0.2), surrogate.Boxcar)
    with pytest.raises(ValueError, match="unknown surrogate 'relu'.*boxcar"):
        surrogate.get("relu")


def test_custom_surrogate_from_a_primitive():
    fast_sigmoid = lambda x, k: 0.5 + 0.5 * x * k / (1 + jnp.abs(x * k))
    spike_fn = surrogate.from_primitive(fast_sigmoid, 10.0)
    u = jnp.array([0.2, 0.5, 0.9], jnp.float32)
    np.testing.assert_array_equal(np.asarray(spike_fn(u, 0.5)), [0, 1, 1])
    du = jax.grad(lambda u: jnp.sum(spike_fn(u, 0.5)))(u)
    x = np.array([-0.3, 0.0, 0.4])
    np.testing.assert_allclose(np.asarray(du), 0.5 * 10 / (1 + np.abs(10 * x)) ** 2, rtol=1e-5)  # written by hand
    np.testing.assert_allclose(np.asarray(spike_fn.derivative(jnp.asarray(x, jnp.float32))), 0.5 * 10 / (1 + np.abs(10 * x)) ** 2, rtol=1e-5)
    # its parameter is a pytree leaf: jit and grad reach it
    dk = jax.jit(jax.grad(lambda k: jnp.sum(surrogate.from_primitive(fast_sigmoid, k)(u, 0.5))))(jnp.float32(10.0))
    assert np.isfinite(float(dk)) and float(dk) != 0.0


@pytest.mark.parametrize("name", sorted(surrogate.SURROGATES))
def test_one_argument_call_means_threshold_zero(name):
    spike_fn = surrogate.get(name)
    x = jnp.asarray(X, jnp.float32)
    chex.assert_trees_all_equal(spike_fn(x), spike_fn(x, 0.0))
    chex.assert_trees_all_equal(jax.grad(lambda x: jnp.sum(spike_fn(x)))(x),
                                jax.grad(lambda x: jnp.sum(spike_fn(x, 0.0)))(x))


def test_every_registered_surrogate_takes_its_parameter_positionally():
    for name, factory in surrogate.SURROGATES.items():
        if name == "straight_through":
            continue
        assert surrogate.get(name, 0.3) == factory(0.3)


def test_register_a_surrogate():
    with surrogate.SURROGATES.scoped():
        surrogate.register("test_steep_sigmoid", lambda alpha=20.0: surrogate.Sigmoid(alpha))
        assert surrogate.get("test_steep_sigmoid").alpha == 20.0
        with pytest.raises(ValueError, match="already registered"):
            surrogate.register("test_steep_sigmoid", surrogate.sigmoid)
    assert "test_steep_sigmoid" not in surrogate.SURROGATES


PEER_SURROGATES = {
    # name: (snnjax spike function, peer module, peer spike function factory)
    "snntorch.fast_sigmoid": (surrogate.fast_sigmoid(25.0), "snntorch", lambda m: m.surrogate.fast_sigmoid(slope=25)),
    "snntorch.atan": (surrogate.atan(2.0), "snntorch", lambda m: m.surrogate.atan(alpha=2.0)),
    "snntorch.sigmoid": (surrogate.sigmoid(25.0), "snntorch", lambda m: m.surrogate.sigmoid(slope=25)),
    "snntorch.straight_through_estimator": (surrogate.straight_through(), "snntorch",
                                            lambda m: m.surrogate.straight_through_estimator()),
}
SJ_SURROGATES = {
    "PiecewiseQuadratic": (surrogate.piecewise_quadratic(1.0), {"alpha": 1.0}),
    "Erf": (surrogate.erf(2.0), {"alpha": 2.0}),
    "SoftSign": (surrogate.soft_sign(2.0), {"alpha": 2.0}),
    "ATan": (surrogate.atan(2.0), {"alpha": 2.0}),
    "Sigmoid": (surrogate.sigmoid(4.0), {"alpha": 4.0}),
}


def _peer_grad(fn, x):
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, requires_grad=True)
    out = fn(xt)
    out.sum().backward()
    return out.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("name", sorted(PEER_SURROGATES))
def test_snntorch_surrogates_equal_ours(name):
    ours, module, make = PEER_SURROGATES[name]
    peer = make(pytest.importorskip(module))
    x = X[X != 0].astype(np.float32)  # snnTorch fires on x > 0
    s_peer, g_peer = _peer_grad(peer, x)
    np.testing.assert_array_equal(np.asarray(ours(jnp.asarray(x))), s_peer)
    g = jax.grad(lambda x: jnp.sum(ours(x)))(jnp.asarray(x))
    # atol: in float32 our σ(25x)(1 - σ(25x)) is 0 where σ rounds to 1 (x > 0.6), snnTorch's ~1e-6
    np.testing.assert_allclose(np.asarray(g), g_peer, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("name", sorted(SJ_SURROGATES))
def test_spikingjelly_surrogates_equal_ours(name):
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import surrogate as sj

    ours, kwargs = SJ_SURROGATES[name]
    x = X.astype(np.float32)
    s_peer, g_peer = _peer_grad(getattr(sj, name)(**kwargs), x)
    np.testing.assert_array_equal(np.asarray(ours(jnp.asarray(x))), s_peer)
    g = jax.grad(lambda x: jnp.sum(ours(x)))(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(g), g_peer, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(HAND_DERIVATIVES))
def test_backward_pass_is_the_primitives_derivative_by_snnjax_testing(name):
    """The same property as the float64 test above, by the public helper users call in their tests."""
    from snnjax import testing

    spike_fn, _ = HAND_DERIVATIVES[name]
    testing.assert_surrogate_matches_primitive(spike_fn, xs=X[X != 0.0], v_th=0.5)  # away from the kinks at 0


def test_custom_surrogate_checked_by_snnjax_testing():
    from snnjax import testing

    soft_step = lambda x, k: 0.5 + 0.5 * x * k / (1 + jnp.abs(x * k))  # noqa: E731
    testing.assert_custom_surrogate(surrogate.from_primitive(soft_step, 10.0),
                                    derivative=lambda x, k: 0.5 * k / (1 + jnp.abs(k * x)) ** 2)  # written by hand


# --------------------------------------------------------------------------- parameters must be > 0

# every factory with a width / sharpness / eps parameter: (factory, parameter name)
PARAMETRISED = {
    "sigmoid": "alpha", "atan": "alpha", "boxcar": "width", "triangle": "width", "bpsa": "eps",
    "fast_sigmoid": "slope", "superspike": "k", "piecewise_quadratic": "alpha", "erf": "alpha",
    "soft_sign": "alpha", "bpsa_code": "eps",
}


def test_every_registered_surrogate_with_a_parameter_is_checked():
    import inspect

    with_parameter = {n for n, f in surrogate.SURROGATES.items() if inspect.signature(f).parameters}
    assert with_parameter == set(PARAMETRISED)


@pytest.mark.parametrize("bad", [-4.0, 0.0, -1, float("nan"), float("inf"), np.array([0.5, -0.5]),
                                 jnp.asarray(0.0, jnp.float32)])
@pytest.mark.parametrize("name", sorted(PARAMETRISED))
def test_concrete_parameter_of_zero_or_less_is_refused_in_one_line(name, bad):
    # sigmoid(-4.) gave negated gradients, boxcar(0.) NaN ones, without a word
    param = PARAMETRISED[name]
    with pytest.raises(ValueError, match=rf"^surrogate\.{name}: {param} must be a finite number > 0, got .*; {param} <= 0 gives|leaves") as error:
        surrogate.SURROGATES[name](bad)
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match=rf"surrogate\.{name}: {param} must be"):
        surrogate.get(name, **{param: bad})


@pytest.mark.parametrize("name", sorted(PARAMETRISED))
def test_a_constant_inside_jit_is_checked_too(name):
    with pytest.raises(ValueError, match=rf"surrogate\.{name}:"):
        jax.jit(lambda u: surrogate.SURROGATES[name](-1.0)(u))(jnp.float32(1.0))


def test_traced_parameters_stay_allowed_under_vmap_jit_and_grad():
    """A sweep, a jit argument and a learned parameter are tracers: not checked (their value is
    unknown while tracing); the docstring says so. Positive values work as before."""
    u = jnp.float32(0.1)
    d_vmap = jax.vmap(lambda a: jax.grad(lambda x: surrogate.sigmoid(a)(x))(u))(jnp.asarray([1.0, 4.0]))
    chex.assert_trees_all_close(d_vmap, jnp.asarray([surrogate.sigmoid(1.0).derivative(u),
                                                     surrogate.sigmoid(4.0).derivative(u)]), rtol=1e-6)
    assert float(jax.jit(lambda w: jax.grad(lambda x: surrogate.boxcar(w)(x))(u))(0.5)) == pytest.approx(2.0)
    g_alpha = jax.grad(lambda a: surrogate.sigmoid(a)(u))(jnp.float32(2.0))  # learned: dF/dα = x σ'(αx)
    sig = 1 / (1 + math.exp(-0.2))
    assert float(g_alpha) == pytest.approx(0.1 * sig * (1 - sig), rel=1e-5)
    assert "Traced values" in surrogate.__doc__ and "vmap" in surrogate.check_parameter.__doc__
