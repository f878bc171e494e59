"""Forward dynamics of every neuron against the plain NumPy loops in numpy_neurons.py."""

import chex
import jax.numpy as jnp
import numpy as np
import pytest

import numpy_neurons as ref
from snnjax import neurons, surrogate

SHAPES = [(9, 3, 5), (6, 2, 4, 4, 3)]  # [T, B, N] and [T, B, H, W, C]


def _inputs(shape, seed=0, scale=0.8):
    return np.random.default_rng(seed).normal(0.4, scale, shape)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("decay_input", [False, True])
def test_lif_matches_numpy(shape, reset, decay_input):
    x = _inputs(shape)
    s_ref, v_ref = ref.lif(x, 0.7, 0.6, reset, decay_input)
    s, state = neurons.lif(jnp.asarray(x, jnp.float32), decay=0.7, v_th=0.6, reset=reset, decay_input=decay_input)
    chex.assert_shape(s, shape)
    assert 0 < s_ref.mean() < 1  # the check is not vacuous
    np.testing.assert_array_equal(np.asarray(s), s_ref)
    np.testing.assert_allclose(np.asarray(state.v), v_ref, rtol=1e-5, atol=1e-5)


def test_lif_per_channel_decay_broadcasts():
    x = _inputs((5, 2, 3, 3, 4))
    decay = np.array([0.1, 0.5, 0.8, 0.95])
    s_ref, _ = ref.lif(x, decay, 1.0)
    s, _ = neurons.lif(jnp.asarray(x, jnp.float32), decay=jnp.asarray(decay, jnp.float32))
    np.testing.assert_array_equal(np.asarray(s), s_ref)


@pytest.mark.parametrize("decay_input", [False, True])
def test_llc_lif_uses_sigmoid_leak(decay_input):
    x = _inputs((8, 4, 6))
    a = 0.4
    k = 1 / (1 + np.exp(-a))
    # Text: h = sigmoid(a)·v + x. Code (SpikingJelly PLIF): h = v + (x - v)·sigmoid(a).
    leak = (1 - k) if decay_input else k
    s_ref, v_ref = ref.lif(x, leak, 1.0, "hard", decay_input)
    s, state = neurons.llc_lif(jnp.asarray(x, jnp.float32), jnp.float32(a), decay_input=decay_input)
    np.testing.assert_array_equal(np.asarray(s), s_ref)
    np.testing.assert_allclose(np.asarray(state.v), v_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_alif_matches_numpy(reset):
    x = _inputs((12, 3, 5), scale=1.2)
    s_ref, v_ref, eta_ref = ref.alif(x, 0.6, 0.9, 0.5, 0.7, reset)
    s, state = neurons.alif(jnp.asarray(x, jnp.float32), decay=0.6, rho=0.9, beta=0.5, v_th=0.7, reset=reset)
    assert 0 < s_ref.mean() < 1
    np.testing.assert_array_equal(np.asarray(s), s_ref)
    np.testing.assert_allclose(np.asarray(state.v), v_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(state.eta), eta_ref, rtol=1e-5, atol=1e-6)
    # adaptation matters: with beta = 0 the spikes are those of a plain LIF
    s0, _ = neurons.alif(jnp.asarray(x, jnp.float32), decay=0.6, rho=0.9, beta=0.0, v_th=0.7, reset=reset)
    np.testing.assert_array_equal(np.asarray(s0), ref.lif(x, 0.6, 0.7, reset)[0])
    assert not np.array_equal(np.asarray(s0), s_ref)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_ce_lif_matches_numpy(shape, reset):
    x = _inputs(shape, scale=0.5)
    te = np.random.default_rng(1).normal(0.01, 0.3, (shape[0],) + shape[2:])
    s_ref, u_ref, theta_ref = ref.ce_lif(x, te, 0.5, 0.99, 0.3, reset)
    s, state = neurons.ce_lif(jnp.asarray(x, jnp.float32), jnp.asarray(te, jnp.float32), reset=reset)
    assert 0 < s_ref.mean() < 1
    np.testing.assert_array_equal(np.asarray(s), s_ref)
    np.testing.assert_allclose(np.asarray(state.u), u_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(state.theta), theta_ref, rtol=1e-5, atol=1e-5)


def test_ce_lif_first_threshold_is_theta0_and_te_moves_it():
    x = jnp.full((3, 1, 1), 0.35, jnp.float32)
    # θ[0] = θ0 = 0.3 → fires at t=0 regardless of TE.
    s, _ = neurons.ce_lif(x, jnp.full((3, 1), 100.0, jnp.float32), v_th=0.3)
    assert float(s[0, 0, 0]) == 1.0
    assert float(s[1:].sum()) == 0.0  # θ[1] = 0.3 + 0.35·100 blocks the rest
    s, _ = neurons.ce_lif(x, jnp.zeros((3, 1), jnp.float32), v_th=0.3)
    np.testing.assert_array_equal(np.asarray(s[:, 0, 0]), [1, 1, 1])


def test_spike_fires_exactly_at_threshold():
    s, _ = neurons.lif(jnp.array([[0.5], [0.25]], jnp.float32), decay=1.0, v_th=0.5)
    np.testing.assert_array_equal(np.asarray(s[:, 0]), [1, 0])


@pytest.mark.parametrize("bad", ["sideways", "HARD"])
def test_bad_reset_is_rejected(bad):
    with pytest.raises(ValueError, match="reset must be one of"):
        neurons.lif(jnp.zeros((2, 3)), decay=0.5, reset=bad)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="leading time axis"):
        neurons.lif(jnp.float32(1.0), decay=0.5)
    with pytest.raises(ValueError, match="te must have one row per time step"):
        neurons.ce_lif(jnp.zeros((4, 2, 3)), jnp.zeros((3, 3)))


def test_bfloat16_activations_with_float32_state():
    x = jnp.asarray(_inputs((6, 2, 5)), jnp.bfloat16)
    state = neurons.lif_init_state((2, 5), jnp.float32)
    s, new_state = neurons.lif(x, decay=0.5, state=state, spike_fn=surrogate.sigmoid())
    chex.assert_type(s, jnp.bfloat16)
    chex.assert_type(new_state.v, jnp.float32)
    s_ref, _ = ref.lif(np.asarray(x, np.float64), 0.5, 1.0)
    np.testing.assert_array_equal(np.asarray(s, np.float32), s_ref)
