"""Neuron kinds and encoders are registries users extend, like the datasets; the top-level exports."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import snnjax
from snnjax import layers, neurons
from snnjax.core import encoders
from snnjax.models import SequenceSNN


def test_a_registered_neuron_kind_runs_in_a_model_and_validates():
    kind = layers.NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.lif_step(st, x, decay=0.9, **cfg.step_kwargs(p)),
        init_state=lambda cfg, p, shape, dtype: neurons.lif_init_state(shape, dtype),
    )
    snnjax.register_neuron("test_lif09", kind)
    try:
        cfg = layers.NeuronConfig(kind="test_lif09", v_th=0.3)
        model = SequenceSNN(hidden=(5,), num_outputs=3, neuron=cfg)
        x = jax.random.uniform(jax.random.PRNGKey(0), (2, 4, 4, 1))
        variables = model.init(jax.random.PRNGKey(1), x, train=False)
        out = model.apply(variables, x, train=False)
        # the same as a lif layer with decay 0.9
        ref = SequenceSNN(hidden=(5,), num_outputs=3, neuron=layers.NeuronConfig(kind="lif", decay=0.9, v_th=0.3))
        np.testing.assert_array_equal(np.asarray(out.out), np.asarray(ref.apply(variables, x, train=False).out))
        with pytest.raises(ValueError, match="already registered"):
            snnjax.register_neuron("test_lif09", kind)
    finally:
        del layers.NEURON_KINDS._entries["test_lif09"]


def test_unknown_neuron_kind_lists_the_registered_ones():
    with pytest.raises(ValueError, match=r"unknown neuron kind 'lfi'; choose one of \[.*'lif'.*'plif'"):
        layers.NeuronConfig(kind="lfi")


def test_a_registered_encoder_is_usable_by_name():
    snnjax.register_encoder("test_inverted", lambda x, time_steps, key, permutation_seed: encoders.direct(1 - x, time_steps))
    try:
        x = jnp.asarray([[0.25, 1.0]], jnp.float32)
        np.testing.assert_array_equal(np.asarray(encoders.encode("test_inverted", x, 3)), [[[0.75, 0.0]]] * 3)
        assert "test_inverted" in snnjax.ENCODERS and not encoders.needs_key("test_inverted")
    finally:
        del encoders.ENCODERS._entries["test_inverted"]


def test_stochastic_encoder_without_a_key_is_refused():
    with pytest.raises(ValueError, match="'rate' encoder draws random numbers and needs a PRNG key"):
        encoders.encode("rate", jnp.zeros((1, 2)), 2)
    with pytest.raises(ValueError, match="unknown encoder 'pxiel'"):
        encoders.encode("pxiel", jnp.zeros((1, 2)), 2)


def test_top_level_exports():
    for name in ["SpikingNeuron", "NeuronConfig", "RecurrentSpikingLayer", "SequenceSNN", "ConvSNN",
                 "build_model", "ModelOutput", "register_neuron", "register_encoder", "losses", "layers",
                 "models", "neurons", "surrogate", "data"]:
        assert hasattr(snnjax, name), name
    assert set(snnjax.__all__) <= set(dir(snnjax))
    assert layers.RecurrentSpikingLayer is snnjax.RecurrentSpikingLayer
