"""``config.model.neuron.precision = "bfloat16"``: bfloat16 spikes between layers, float32 membrane."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import neurons
from snnjax.layers import NeuronConfig, SpikingNeuron


def test_bfloat16_spikes_with_a_float32_membrane():
    """Over 60 steps a bfloat16 membrane drifts from the float32 one (checked below, so this test
    can fail); the bfloat16-precision layer keeps the float32 membrane's spikes exactly."""
    x = jnp.asarray(np.random.default_rng(0).normal(0.3, 0.4, (60, 4, 64)), jnp.bfloat16)
    cfg = NeuronConfig(kind="lif", decay=0.9, v_th=1.0, reset="soft")
    s_f32 = SpikingNeuron(cfg).apply({}, x.astype(jnp.float32))
    s_bf16 = SpikingNeuron(cfg.replace(precision="bfloat16")).apply({}, x)
    assert s_bf16.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(s_bf16, np.float32), np.asarray(s_f32))
    s_bf16_membrane, _ = neurons.lif(x, decay=0.9, v_th=1.0, reset="soft")
    assert int(jnp.sum(s_bf16_membrane.astype(jnp.float32) != s_f32)) > 0
    for kind in ("llc_lif", "alif", "ce_lif"):  # every kind emits bfloat16 spikes
        te = jnp.zeros((60, 64), jnp.float32)
        layer = SpikingNeuron(NeuronConfig(kind=kind, precision="bfloat16"))
        out, _ = layer.init_with_output(jax.random.PRNGKey(0), x, te=te)
        assert out.dtype == jnp.bfloat16, kind


def test_bad_precision():
    with pytest.raises(ValueError, match="neuron.precision must be one of"):
        NeuronConfig(precision="float16")


@pytest.mark.slow
def test_bfloat16_changes_smoke_accuracy_by_at_most_half_a_point(tmp_path):
    """``configs/smoke.py`` trained twice, float32 and bfloat16 spikes: the final test accuracies
    (1,000 test images) differ by at most 0.5 points. On one device, as ``make smoke`` trains it
    (the same run over conftest's 4 fake CPU devices takes 2.3 times as long)."""
    from configs import smoke
    from snnjax.tool import train_lib

    accuracy = {}
    for precision in ("float32", "bfloat16"):
        config = smoke.get_config()
        with config.unlocked():
            config.model.neuron.precision = precision
        summary = train_lib.train_and_evaluate(config, tmp_path / precision, progress=False,
                                               devices=jax.devices()[:1])
        accuracy[precision] = summary["final_test_accuracy"]
    assert accuracy["float32"] > 0.9
    # in images of the 1,000 (0.962 - 0.957 is 0.0050000000000000044 in floating point: 5 images)
    assert round(abs(accuracy["bfloat16"] - accuracy["float32"]) * 1000) <= 5, accuracy


@pytest.mark.parametrize("scan", ["layer", "step"])
def test_spike_counts_are_sown_in_the_models_precision(scan):
    """float64 counts in a float64 model (its regularisers compute in float64), float32 otherwise,
    bfloat16 spikes included; both schedules of SequenceSNN sow the same counts."""
    from snnjax.models import SequenceSNN

    model = SequenceSNN(hidden=(5, 4), num_outputs=2, encoder="sequence", scan=scan,
                        neuron=NeuronConfig(kind="lif", decay=0.5, v_th=0.3))
    x = np.random.default_rng(3).normal(0.3, 0.5, (2, 9, 3))
    for dtype, counts_dtype in ((jnp.float64, jnp.float64), (jnp.float32, jnp.float32)):
        with jax.enable_x64(True):
            xs = jnp.asarray(x, dtype)
            variables = jax.tree.map(lambda a: a.astype(dtype), model.init(jax.random.PRNGKey(0), xs, train=False))
            _, sown = model.apply(variables, xs, train=False, mutable=["spike_counts"])
            counts = jax.tree.leaves(sown["spike_counts"])
            assert counts and all(c.dtype == counts_dtype for c in counts), (scan, dtype)
            assert float(sum(c.sum() for c in counts)) > 0
    s = jnp.ones((3, 2, 4), jnp.bfloat16)
    _, sown = SpikingNeuron(NeuronConfig(kind="lif", v_th=0.5)).apply({}, s, mutable=["spike_counts"])
    assert jax.tree.leaves(sown["spike_counts"])[0].dtype == jnp.float32
