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


ALL = [surrogate.sigmoid(), surrogate.atan(), surrogate.boxcar(0.4), surrogate.triangle(), surrogate.bpsa()]


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
