"""Everything a config names is a ``Registry`` users extend (decorator or ``register()``, ``overwrite=``,
``scoped()`` for tests); the top-level exports."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import snnjax
from snnjax import data, layers, losses, models, neurons, surrogate
from snnjax.core import encoders
from snnjax.core.registry import Registry
from snnjax.models import SequenceSNN
from snnjax.tool import optim, validate
from snnjax.tool.config import base_config

# config key -> the registry its value is looked up in
CONFIG_REGISTRIES = {
    "model.neuron.kind": layers.NEURON_KINDS,
    "model.encoder": encoders.ENCODERS,
    "model.neuron.surrogate": surrogate.SURROGATES,
    "data.name": data.LOADERS,
    "model.arch": models.MODELS,
    "loss.name": losses.LOSSES,
    "optim.name": optim.OPTIMIZERS,
    "optim.schedule": optim.SCHEDULES,
}


def test_a_registered_neuron_kind_runs_in_a_model_and_validates():
    kind = layers.NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.lif_step(st, x, decay=0.9, **cfg.step_kwargs(p)),
        init_state=lambda cfg, p, shape, dtype: neurons.lif_init_state(shape, dtype),
    )
    with layers.NEURON_KINDS.scoped():
        snnjax.register_neuron("test_lif09", kind)
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
    assert "test_lif09" not in layers.NEURON_KINDS


def test_unknown_neuron_kind_lists_the_registered_ones():
    with pytest.raises(ValueError, match=r"unknown neuron kind 'lfi'; choose one of \[.*'lif'.*'plif'"):
        layers.NeuronConfig(kind="lfi")


def test_a_registered_encoder_is_usable_by_name():
    with encoders.ENCODERS.scoped():
        snnjax.register_encoder("test_inverted",
                                lambda x, time_steps, key, permutation_seed: encoders.direct(1 - x, time_steps))
        x = jnp.asarray([[0.25, 1.0]], jnp.float32)
        np.testing.assert_array_equal(np.asarray(encoders.encode("test_inverted", x, 3)), [[[0.75, 0.0]]] * 3)
        assert "test_inverted" in snnjax.ENCODERS and not encoders.needs_key("test_inverted")
    assert "test_inverted" not in snnjax.ENCODERS


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


# --- the Registry itself ---------------------------------------------------------------------------


def test_register_as_a_decorator_returns_the_function_unchanged():
    things = Registry("thing")

    @things.register("double")
    def double(x):
        return 2 * x

    assert things.lookup("double") is double and double(3) == 6
    assert things.register("triple", lambda x: 3 * x)(2) == 6  # the call form returns the entry too


def test_overwrite_is_refused_unless_asked_for():
    things = Registry("thing", {"a": 1})
    with pytest.raises(ValueError, match=r"^thing 'a' is already registered; pass overwrite=True to replace it$"):
        things.register("a", 2)
    with pytest.raises(ValueError, match="already registered"):
        things.register("a")(lambda: None)  # the decorator form refuses too
    assert things["a"] == 1
    things.register("a", 2, overwrite=True)
    assert things["a"] == 2


def test_scoped_restores_the_entries_it_found():
    things = Registry("thing", {"a": 1})
    with things.scoped() as scoped:
        assert scoped is things
        things.register("b", 2)
        things.register("a", 10, overwrite=True)
        assert dict(things) == {"a": 10, "b": 2}
    assert dict(things) == {"a": 1}


def test_scoped_restores_the_entries_after_an_exception():
    things = Registry("thing", {"a": 1})
    with pytest.raises(RuntimeError, match="boom"):
        with things.scoped():
            things.register("b", 2)
            things.register("a", 10, overwrite=True)
            raise RuntimeError("boom")
    assert dict(things) == {"a": 1}


def test_a_name_must_be_a_non_empty_string():
    with pytest.raises(ValueError, match="a thing name must be a non-empty string, got ''"):
        Registry("thing").register("", 1)


# --- the registries configs name -------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(CONFIG_REGISTRIES))
def test_every_registry_a_config_names_is_a_registry(key):
    assert isinstance(CONFIG_REGISTRIES[key], Registry), key


def _get(config, dotted: str):
    *path, last = dotted.split(".")
    for part in path:
        config = config[part]
    return config, last


@pytest.mark.parametrize("key", sorted(CONFIG_REGISTRIES))
def test_a_name_registered_at_run_time_passes_the_config_check(key):
    # The check reads the registry itself, not a copy taken at import time.
    registry = CONFIG_REGISTRIES[key]
    config = base_config()
    node, last = _get(config, key)
    with registry.scoped():
        registry.register("test_copy", registry.lookup(node[last]))
        node[last] = "test_copy"
        validate.check_config(config)
    with pytest.raises(validate.ConfigError, match=f"{key}='test_copy' is unknown"):
        validate.check_config(config)


def test_a_registered_optimiser_and_schedule_are_built_by_name():
    with optim.OPTIMIZERS.scoped(), optim.SCHEDULES.scoped():
        @optim.OPTIMIZERS.register("test_plain_sgd")
        def plain_sgd(cfg, schedule):
            return optax.sgd(schedule)

        @optim.SCHEDULES.register("test_halving")
        def halving(cfg, after_warmup, unit):
            return lambda t: cfg.learning_rate * 0.5 ** (jnp.asarray(t, jnp.float32) / unit)

        cfg = optim.default_optim_config()
        cfg.update(name="test_plain_sgd", schedule="test_halving", learning_rate=1.0, schedule_per_epoch=False)
        tx, schedule = optim.make_optimizer(cfg, steps_per_epoch=2, num_epochs=4)
        np.testing.assert_allclose([float(schedule(s)) for s in (0, 2, 4)], [1.0, 0.5, 0.25])
        params = {"w": jnp.ones(2, jnp.float32)}
        updates, _ = tx.update({"w": jnp.ones(2, jnp.float32)}, tx.init(params), params)
        np.testing.assert_allclose(updates["w"], [-1.0, -1.0])  # plain SGD at lr 1, no momentum


def test_every_loss_a_task_allows_is_registered():
    for task, names in losses.LOSSES_FOR_TASK.items():
        assert set(names) <= set(losses.LOSSES), task


def _model_config(arch):
    cfg = models.default_model_config()
    cfg.arch = arch
    return cfg


def _optim_config(**overrides):
    cfg = optim.default_optim_config()
    cfg.update(overrides)
    return cfg


# config key -> what a user calls with an unknown name
UNKNOWN_NAME_CALLS = {
    "model.neuron.kind": lambda: layers.NeuronConfig(kind="nope"),
    "model.encoder": lambda: encoders.encode("nope", jnp.zeros((1, 2)), 2),
    "model.neuron.surrogate": lambda: surrogate.get("nope"),
    "data.name": lambda: data.load({"name": "nope"}),
    "model.arch": lambda: models.build_model(_model_config("nope"), 10),
    "loss.name": lambda: losses.get("nope"),
    "optim.name": lambda: optim.make_optimizer(_optim_config(name="nope"), 1, 1),
    "optim.schedule": lambda: optim.make_schedule(_optim_config(schedule="nope"), 1, 1),
}


@pytest.mark.parametrize("key", sorted(CONFIG_REGISTRIES))
def test_an_unknown_name_is_one_line_listing_the_choices(key):
    with pytest.raises(ValueError) as error:
        UNKNOWN_NAME_CALLS[key]()
    message = str(error.value)
    assert "\n" not in message and message.startswith("unknown ") and "'nope'" in message
    assert message.endswith(f"choose one of {CONFIG_REGISTRIES[key].names()}")
