"""snnjax.monitor records every spiking layer's spikes and per-step states, equal to the pure functions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import monitor, neurons
from snnjax.layers import NeuronConfig
from snnjax.models import SequenceSNN
from snnjax.core import encoders


@pytest.mark.slow
def test_records_spikes_and_membranes_of_every_layer():
    cfg = NeuronConfig(kind="lif", decay=0.6, v_th=0.3)
    model = SequenceSNN(hidden=(5, 4), num_outputs=3, neuron=cfg, recurrent_layers=(1,))
    x = jax.random.uniform(jax.random.PRNGKey(0), (2, 3, 3, 1))
    variables = model.init(jax.random.PRNGKey(1), x, train=False)
    records = monitor.record(model, variables, x, train=False)
    assert list(records) == ["neuron0", "layer1"]
    assert records["neuron0"].spikes.shape == (9, 2, 5) and records["layer1"].spikes.shape == (9, 2, 4)
    # layer 0 from the pure function: its input current is fc0's output
    p = variables["params"]["fc0"]
    current = encoders.pixel(x) @ p["kernel"] + p["bias"].reshape(1, 1, -1)
    step = lambda st, x_t: (lambda new: (new[0], (new[1], new[0].v)))(neurons.lif_step(st, x_t, decay=0.6, v_th=0.3))
    _, (s_ref, v_ref) = jax.lax.scan(step, neurons.lif_init_state((2, 5)), current)
    np.testing.assert_array_equal(np.asarray(records["neuron0"].spikes), np.asarray(s_ref))
    np.testing.assert_allclose(np.asarray(records["neuron0"].state.v), np.asarray(v_ref), rtol=1e-6, atol=1e-6)
    assert records["layer1"].state.v.shape == (9, 2, 4)
    arrays = monitor.as_numpy(records)
    assert set(arrays["neuron0"]) == {"spikes", "v"}
    # without membranes, no state and no extra collection
    assert monitor.record(model, variables, x, train=False, membranes=False)["neuron0"].state is None


def test_recording_does_not_change_the_model_output():
    model = SequenceSNN(hidden=(6,), num_outputs=2, scan="layer")
    x = jax.random.uniform(jax.random.PRNGKey(2), (2, 3, 3, 1))
    variables = model.init(jax.random.PRNGKey(1), x, train=False)
    out = model.apply(variables, x, train=False)
    (out2, _) = model.apply(variables, x, train=False, mutable=["membranes"])
    np.testing.assert_array_equal(np.asarray(out.out), np.asarray(out2.out))
    # scan="auto" (the default): a plain eval call runs the per-step scan, a monitored one the
    # per-layer scans, equal to float32 rounding
    out_auto = model.clone(scan="auto").apply(variables, x, train=False)
    np.testing.assert_allclose(np.asarray(out_auto.out), np.asarray(out2.out), rtol=1e-6, atol=1e-6)
    records = monitor.record(model, variables, x, train=False)
    assert set(records["neuron0"].state._fields) == {"v", "u", "theta"}  # CE-LIF's state
