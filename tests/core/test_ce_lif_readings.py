"""CE-LIF's switches for the readings of the paper's lost equations (issue 30 §3): which membrane
drives the threshold, and the readout summed over time."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import neurons, surrogate
from snnjax.layers import NeuronConfig, SpikingNeuron
from snnjax.core.output import read_out
import numpy_neurons


@pytest.mark.parametrize("drive", neurons.THRESHOLD_DRIVES)
def test_each_threshold_drive_equals_a_numpy_loop(drive):
    rng = np.random.default_rng(0)
    x = rng.normal(0.3, 0.6, (20, 3, 7))
    te = rng.normal(0.0, 0.5, (20, 7))
    with jax.enable_x64(True):
        s, state = neurons.ce_lif(jnp.asarray(x), jnp.asarray(te), decay=0.5, rho=0.9, v_th=0.3,
                                  threshold_drive=drive)
        ref_s, ref_u, ref_theta = numpy_neurons.ce_lif(x, te, 0.5, 0.9, 0.3, threshold_drive=drive)
        np.testing.assert_array_equal(np.asarray(s), ref_s)
        np.testing.assert_allclose(np.asarray(state.u), ref_u, rtol=0, atol=1e-12)
        np.testing.assert_allclose(np.asarray(state.theta), ref_theta, rtol=0, atol=1e-12)


def test_the_drives_differ_and_the_default_is_the_papers_reading():
    x = jax.random.normal(jax.random.PRNGKey(1), (30, 4, 16)) + 0.4
    te = jax.random.normal(jax.random.PRNGKey(2), (30, 16)) * 0.5
    default, _ = neurons.ce_lif(x, te)
    spikes = {d: neurons.ce_lif(x, te, threshold_drive=d)[0] for d in neurons.THRESHOLD_DRIVES}
    np.testing.assert_array_equal(default, spikes["u_prev"])
    assert not np.array_equal(spikes["u_prev"], spikes["u_now"])
    assert not np.array_equal(spikes["u_prev"], spikes["u_prev_scaled"])


@pytest.mark.slow
@pytest.mark.parametrize("drive", neurons.THRESHOLD_DRIVES)
def test_te_learns_under_every_drive(drive):
    x = jax.random.normal(jax.random.PRNGKey(3), (12, 2, 5)) + 0.5
    te = jnp.full((12, 5), 0.1)

    def loss(te):
        return neurons.ce_lif(x, te, spike_fn=surrogate.boxcar(0.5), threshold_drive=drive)[0].sum()

    g = jax.grad(loss)(te)
    assert bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).sum()) > 0


def test_a_bad_drive_and_the_kernel_are_refused_by_name():
    x, te = jnp.zeros((4, 2, 3)), jnp.zeros((4, 3))
    with pytest.raises(ValueError, match="threshold_drive must be one of"):
        neurons.ce_lif(x, te, threshold_drive="u_next")
    with pytest.raises(ValueError, match="impl='pallas' computes threshold_drive='u_prev' only"):
        neurons.ce_lif(x, te, impl="pallas", threshold_drive="u_now")
    with pytest.raises(ValueError, match="neuron.threshold_drive must be one of"):
        NeuronConfig(kind="ce_lif", threshold_drive="u")
    with pytest.raises(ValueError, match="threshold_drive"):  # LIF has no threshold drive
        NeuronConfig(kind="lif", threshold_drive="u_now")


def test_the_layer_passes_the_drive_to_the_neuron():
    cfg = NeuronConfig(kind="ce_lif", decay=0.5, rho=0.99, v_th=0.3, surrogate="boxcar", surrogate_param=0.2,
                       threshold_drive="u_now")
    x = jax.random.normal(jax.random.PRNGKey(4), (10, 2, 6)) + 0.4
    te = jax.random.normal(jax.random.PRNGKey(5), (10, 6)) * 0.3
    layer = SpikingNeuron(cfg)
    variables = layer.init(jax.random.PRNGKey(0), x, te=te)
    s = layer.apply(variables, x, te=te)
    s = s[0] if isinstance(s, tuple) else s
    expected, _ = neurons.ce_lif(x, te, decay=0.5, rho=0.99, v_th=0.3, spike_fn=surrogate.boxcar(0.2),
                                 threshold_drive="u_now")
    np.testing.assert_array_equal(s, expected)


def test_the_sum_readout_is_t_times_the_mean():
    out = jax.random.normal(jax.random.PRNGKey(6), (7, 3, 10))
    np.testing.assert_allclose(read_out(out, "sum"), 7 * read_out(out, "mean"), rtol=1e-6)
