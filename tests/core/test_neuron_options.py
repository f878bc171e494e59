"""Each neuron kind declares the options it reads; a set option the kind ignores is refused by name.

``NeuronConfig(kind="leaky", beta=0.95)``, as a snnTorch user writes it, used to run with decay 0.5:
beta is ALIF's adaptation strength. Now it is an error that says what beta is and what was meant.
"""

import dataclasses

import pytest

from snnjax.layers.spiking import COMMON_OPTIONS, NEURON_KINDS, NeuronConfig, NeuronKind, unused_options

# a non-default value for every option some kind reads
SET_VALUES = {"decay": 0.9, "beta": 0.95, "rho": 0.9, "syn_decay": 0.2, "a_init": 1.0, "init_tau": 3.0,
              "per_channel": True, "bpta_alpha": 0.5, "decay_input": True, "threshold_drive": "u_now"}


BUILT_IN = ("lif", "llc_lif", "if", "plif", "alif", "ce_lif", "leaky", "cuba_lif")


def test_every_built_in_kind_declares_its_options_and_they_are_config_fields():
    fields = {f.name for f in dataclasses.fields(NeuronConfig)}
    assert set(COMMON_OPTIONS) <= fields
    for name, kind in NEURON_KINDS.items():
        assert kind.options is not None or name not in BUILT_IN, name
        assert set(kind.options or ()) <= fields, name
    # every option outside COMMON_OPTIONS is read by some kind, and has a value to try here
    read = {o for name in BUILT_IN for o in NEURON_KINDS.lookup(name).options}
    assert fields - set(COMMON_OPTIONS) == read == set(SET_VALUES)


@pytest.mark.parametrize("kind_name", BUILT_IN)
@pytest.mark.parametrize("option", sorted(SET_VALUES))
def test_an_option_is_accepted_by_the_kinds_that_read_it_and_refused_by_name_elsewhere(kind_name, option):
    kind = NEURON_KINDS.lookup(kind_name)
    if option in kind.options:
        NeuronConfig(kind=kind_name, **{option: SET_VALUES[option]})
        return
    if option in ("bpta_alpha", "decay_input"):  # refused by the older, specific checks
        with pytest.raises(ValueError, match=rf"neuron\.{option}"):
            NeuronConfig(kind=kind_name, **{option: SET_VALUES[option]})
        return
    with pytest.raises(ValueError, match=rf"^neuron\.{option}={SET_VALUES[option]!r} is not read by \S+ neurons: {option} is"):
        NeuronConfig(kind=kind_name, **{option: SET_VALUES[option]})


def test_the_snntorch_users_beta_names_decay():
    with pytest.raises(ValueError) as error:
        NeuronConfig(kind="leaky", beta=0.95)
    assert str(error.value) == ("neuron.beta=0.95 is not read by Leaky neurons: beta is ALIF's adaptation "
                                "strength; for the leak of Leaky neurons use decay")
    with pytest.raises(ValueError, match="LLC-LIF neurons learn their leak sigmoid\\(a\\), starting from a_init"):
        NeuronConfig(kind="llc_lif", decay=0.9)
    with pytest.raises(ValueError, match="IF neurons have no leak"):
        NeuronConfig(kind="if", decay=0.9)
    with pytest.raises(ValueError, match="PLIF neurons learn their leak, starting from init_tau"):
        NeuronConfig(kind="plif", a_init=1.0)


def test_per_channel_counts_for_every_kind_with_a_learnt_threshold():
    NeuronConfig(kind="lif", learn_threshold=True, per_channel=True)
    with pytest.raises(ValueError, match="neuron.per_channel=True is not read by LIF neurons"):
        NeuronConfig(kind="lif", per_channel=True)


def test_a_kind_registered_without_options_checks_nothing():
    lif = NEURON_KINDS.lookup("lif")
    kind = NeuronKind(step=lif.step, init_state=lif.init_state)  # the 0.1 form declares no options
    assert kind.options is None and NeuronKind.options is None
    with NEURON_KINDS.scoped():
        NEURON_KINDS.register("test_no_options", kind)
        assert NeuronConfig(kind="test_no_options", beta=0.95).beta == 0.95
        assert unused_options(NeuronConfig(kind="test_no_options", beta=0.95), lif) != []


def test_the_config_check_reports_it_before_anything_runs():
    from snnjax.tool import validate
    from snnjax.tool.config import base_config

    config = base_config()
    config.model.neuron.kind = "leaky"
    config.model.neuron.beta = 0.95
    with pytest.raises(validate.ConfigError, match=r"model\.neuron: neuron\.beta=0\.95 is not read by Leaky neurons"):
        validate.check_config(config)


def test_with_kind_resets_the_options_the_new_kind_does_not_read():
    """conv nets run OSSA's neurons as LLC-LIF whatever the net's kind: a LIF net with decay=0.9
    must not have its OSSA refused for a decay LLC-LIF does not read."""
    lif = NeuronConfig(kind="lif", decay=0.9, v_th=0.7, bpta_alpha=0.5)
    llc = lif.with_kind("llc_lif")
    assert (llc.kind, llc.decay, llc.v_th, llc.bpta_alpha) == ("llc_lif", NeuronConfig().decay, 0.7, 0.5)
    assert NeuronConfig(kind="alif", beta=0.5, rho=0.9).with_kind("leaky") == NeuronConfig(kind="leaky")


def test_a_lif_conv_net_with_ossa_and_its_own_decay_builds():
    import jax
    import jax.numpy as jnp

    from snnjax import models

    cfg = models.default_model_config()
    cfg.spec, cfg.time_steps, cfg.ossa = "4c3-8c3-p2-20-10", 2, True
    cfg.neuron.kind, cfg.neuron.decay, cfg.neuron.decay_input = "lif", 0.9, False
    model = models.build_model(cfg, 10)
    x = jnp.zeros((2, 8, 8, 1))
    variables = jax.eval_shape(lambda: model.init({"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)},
                                                  x, train=False))
    assert "params" in variables
