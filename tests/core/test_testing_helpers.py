"""snnjax.testing: each helper passes on correct gradients and fails on a wrong one (a surrogate
whose backward pass is doubled, a dropped path through time, a wrong hand-written derivative)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import neurons, surrogate, testing


def sigmoid4(x):
    return jax.nn.sigmoid(4.0 * x)


def sigmoid4_derivative(x):
    return 4.0 * sigmoid4(x) * (1 - sigmoid4(x))


def soft_step(x, k):
    """A soft-sign step; F'(x) = k / (2 (1 + k|x|)²), written by hand below."""
    return 0.5 + 0.5 * x * k / (1 + jnp.abs(k * x))


def soft_step_derivative(x, k):
    return k / (2 * (1 + k * jnp.abs(x)) ** 2)


@jax.custom_vjp
def _doubled_spike(u, v_th):
    return surrogate.heaviside(u - v_th)


def _doubled_fwd(u, v_th):
    return _doubled_spike(u, v_th), u - v_th


def _doubled_bwd(z, g):
    d = 2 * sigmoid4_derivative(z)
    return g * d, -g * d


_doubled_spike.defvjp(_doubled_fwd, _doubled_bwd)


def doubled(u, v_th=0.0):
    """Heaviside forward, 2·σ'(4z) backward: a surrogate whose backward pass is twice its primitive's."""
    return _doubled_spike(u, jnp.broadcast_to(jnp.asarray(v_th).astype(u.dtype), u.shape))


SMOOTH = {
    "sigmoid": surrogate.sigmoid(4.0),
    "atan": surrogate.atan(2.0),
    "erf": surrogate.erf(2.0),
    "soft_sign": surrogate.soft_sign(2.0),
    "fast_sigmoid": surrogate.fast_sigmoid(25.0),
    "boxcar": surrogate.boxcar(1.0),  # kinks at ±0.5, 0.05 from the default points
    "triangle": surrogate.triangle(1.0),
    "piecewise_quadratic": surrogate.piecewise_quadratic(1.0),
    "straight_through": surrogate.straight_through(),
    "custom": surrogate.from_primitive(soft_step, 10.0),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_surrogate_helper_passes_for_the_library_surrogates(name):
    testing.assert_surrogate_matches_primitive(SMOOTH[name])


def test_surrogate_helper_fails_on_a_doubled_backward_pass():
    testing.assert_surrogate_matches_primitive(surrogate.sigmoid(4.0), sigmoid4)  # the right one passes
    with pytest.raises(AssertionError, match="∂s/∂u differs"):
        testing.assert_surrogate_matches_primitive(doubled, sigmoid4)
    with pytest.raises(AssertionError, match="∂s/∂u differs"):
        testing.assert_surrogate_matches_primitive(surrogate.from_primitive(lambda x: 2 * sigmoid4(x)), sigmoid4)


def test_surrogate_helper_fails_on_a_wrong_threshold_gradient_or_forward():
    @jax.custom_vjp
    def no_v_th_grad(u, v_th):
        return surrogate.heaviside(u - v_th)

    no_v_th_grad.defvjp(lambda u, v: (no_v_th_grad(u, v), u - v),
                        lambda z, g: (g * sigmoid4_derivative(z), jnp.zeros_like(z)))
    with pytest.raises(AssertionError, match="∂s/∂v_th differs"):
        testing.assert_surrogate_matches_primitive(lambda u, v=0.0: no_v_th_grad(u, jnp.broadcast_to(jnp.asarray(v).astype(u.dtype), u.shape)),
                                                   sigmoid4)
    # u > v_th (snnTorch's convention) instead of u >= v_th: caught at x = 0
    with pytest.raises(AssertionError, match="Heaviside"):
        testing.assert_surrogate_matches_primitive(surrogate.strict(surrogate.sigmoid(4.0)), sigmoid4, xs=[-0.5, 0.0, 0.5])


def test_a_spike_function_without_primitive_needs_one_given():
    with pytest.raises(TypeError, match="no smooth primitive"):
        testing.assert_surrogate_matches_primitive(surrogate.bpsa())


X_SEQ = np.random.default_rng(0).normal(0.4, 0.6, (6, 2, 3))


def lif_hard(st, x, fn, k):
    return neurons.lif_step(st, x, decay=k, v_th=0.5, spike_fn=fn)


@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_neuron_helper_passes_for_lif(reset):
    step = lambda st, x, fn, p: neurons.lif_step(st, x, decay=p[0], v_th=p[1], spike_fn=fn, reset=reset)  # noqa: E731
    testing.assert_neuron_grad_matches_relaxation(step, X_SEQ, neurons.lif_init_state((2, 3)), surrogate.atan(),
                                                  params=(0.7, 0.5))


def test_neuron_helper_checks_a_multi_step_implementation_against_the_step():
    testing.assert_neuron_grad_matches_relaxation(
        lif_hard, X_SEQ, neurons.lif_init_state((2, 3)), surrogate.sigmoid(4.0), params=0.7,
        sequence=lambda x, st, fn, k: neurons.lif(x, decay=k, v_th=0.5, spike_fn=fn, state=st, unroll=3))


def test_neuron_helper_fails_on_a_doubled_surrogate():
    with pytest.raises(AssertionError, match="finite differences of its smooth relaxation"):
        testing.assert_neuron_grad_matches_relaxation(lif_hard, X_SEQ, neurons.lif_init_state((2, 3)), doubled,
                                                      params=0.7, primitive=sigmoid4)


def test_neuron_helper_fails_on_a_dropped_path_through_time():
    def detached_membrane(st, x, fn, k):  # a bug: the membrane carried to the next step has no gradient
        return neurons.lif_step(neurons.LIFState(jax.lax.stop_gradient(st.v)), x, decay=k, v_th=0.5, spike_fn=fn)

    with pytest.raises(AssertionError, match="finite differences of its smooth relaxation"):
        testing.assert_neuron_grad_matches_relaxation(
            lif_hard, X_SEQ, neurons.lif_init_state((2, 3)), surrogate.sigmoid(4.0), params=0.7,
            sequence=lambda x, st, fn, k: jax.lax.scan(lambda s, x_t: detached_membrane(s, x_t, fn, k), st, x)[::-1])


def test_neuron_helper_fails_on_bpta_which_is_no_derivative():
    """BPTA's extra gradient α·λ·g' is a designed path that no forward function has (docstring)."""
    step = lambda st, x, fn, k: neurons.lif_step(st, x, decay=k, v_th=0.5, spike_fn=fn, bpta_alpha=0.8)  # noqa: E731
    with pytest.raises(AssertionError, match="smooth relaxation"):
        testing.assert_neuron_grad_matches_relaxation(step, X_SEQ, neurons.lif_init_state((2, 3)),
                                                      surrogate.sigmoid(4.0), params=0.7)


def test_neuron_helper_needs_one_spike_call_per_step():
    def two_calls(st, x, fn, k):
        st, s = lif_hard(st, x, fn, k)
        return st, s * fn(st.v, 0.1)

    with pytest.raises(ValueError, match="exactly one call per step"):
        testing.assert_neuron_grad_matches_relaxation(two_calls, X_SEQ, neurons.lif_init_state((2, 3)),
                                                      surrogate.sigmoid(4.0), params=0.7)


def test_custom_surrogate_helper_passes_and_fails():
    spike_fn = surrogate.from_primitive(soft_step, 10.0)
    testing.assert_custom_surrogate(spike_fn, derivative=soft_step_derivative)
    with pytest.raises(AssertionError, match="hand-written derivative"):
        testing.assert_custom_surrogate(spike_fn, derivative=lambda x, k: 2 * soft_step_derivative(x, k))


def test_custom_surrogate_helper_fails_on_a_primitive_whose_autodiff_is_wrong():
    @jax.custom_jvp
    def bad_step(x):
        return sigmoid4(x)

    bad_step.defjvp(lambda p, t: (sigmoid4(p[0]), 2 * jax.grad(sigmoid4)(p[0]) * t[0]))
    with pytest.raises(AssertionError):
        testing.assert_custom_surrogate(surrogate.from_primitive(bad_step))
    with pytest.raises(TypeError, match="from_primitive"):
        testing.assert_custom_surrogate(surrogate.sigmoid())
