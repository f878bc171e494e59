"""Spec strings, every paper architecture, parameter counts, and the static first layer."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import models
from snnjax.models.spec import Layer, parse_spec


def test_parse_llc_lif_spec_with_voting():
    layers = parse_spec("128c3-p2-128c3-p2-2048-100-10", 10)
    assert layers == (
        Layer("conv", 128, 3),
        Layer("pool", 2, pool="max"),
        Layer("conv", 128, 3),
        Layer("pool", 2, pool="max"),
        Layer("dense", 2048),
        Layer("dense", 100),
        Layer("vote", 10),
    )
    assert parse_spec("32c3-ap2-10", 10)[-1] == Layer("dense", 10)  # no voting without a wider layer
    assert parse_spec("32c3-p2-100-v10", 10)[-1] == Layer("vote", 10)
    assert parse_spec("8c3-p2-10", 10, default_pool="avg")[1].pool == "avg"


@pytest.mark.parametrize(
    "spec,message",
    [
        ("128c3-x2-10", "bad token 'x2'"),
        ("128c3-p2-100-11", "ends in 11 outputs but the data has 10 classes"),
        ("100-v7", "votes into 7 classes"),
        ("100-128c3-10", "conv/pool layers must come before dense"),
        ("", "empty network spec"),
    ],
)
def test_bad_specs_are_rejected(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(spec, 10)


def _param_count(cfg, x_shape, num_outputs=10):
    model = models.build_model(cfg, num_outputs)
    shapes = jax.eval_shape(lambda: model.init({"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}, jnp.zeros(x_shape), train=False))
    out = jax.eval_shape(lambda v: model.apply(v, jnp.zeros(x_shape), train=False), shapes)
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(shapes["params"])), out


def test_llc_lif_mnist_net_parameters_by_hand():
    cfg = models.default_model_config()
    cfg.spec = "128c3-p2-128c3-p2-2048-dp-100-10"
    cfg.norm = "llc_bn"
    cfg.neuron.kind = "llc_lif"
    count, out = _param_count(cfg, (2, 28, 28, 1))
    conv = 3 * 3 * 1 * 128 + 3 * 3 * 128 * 128  # no conv bias before a norm
    norm = 2 * (128 + 128)  # λ, β per channel
    leak = 2 + 2  # a per LLC-LIF layer: two conv blocks, two dense blocks
    dense = 6272 * 2048 + 2048 + 2048 * 100 + 100
    assert count == conv + norm + leak + dense
    chex.assert_shape(out.out, (8, 2, 10))


PAPER_NETS = {
    # name: (spec, input shape, time steps, extra switches)
    "llc_lif_cifar10": ("256c3-256c3-256c3-p2-256c3-256c3-256c3-p2-2048-dp-100-10", (1, 32, 32, 3), 8, {"norm": "llc_bn", "local_heads": "per_conv"}),
    "bpsa_small": ("128c3-mp2-128c3-256c3-mp2-4096-dp-100-10", (1, 28, 28, 1), 16, {"relu_before_neuron": True}),
    "bpsa_middle": ("128c3-mp2-128c3-mp2-256c3-mp2-512c3-ap4-512-100-10", (1, 32, 32, 3), 16, {"relu_before_neuron": True}),
    "bpsa_large": ("128c3-128c3-ap2-128c3-ap2-256c3-ap2-512c3-ap2-1024c3-ap4-dp-1024-110-11", (1, 128, 128, 2), 16, {"relu_before_neuron": True, "encoder": "sequence"}),
    "spikingjelly_anchor": ("128c3-p2-128c3-p2-dp-2048-dp-100-10", (1, 28, 28, 1), 8, {}),
}


@pytest.mark.parametrize("name", sorted(PAPER_NETS))
def test_paper_architectures_build(name):
    spec, shape, steps, switches = PAPER_NETS[name]
    cfg = models.default_model_config()
    cfg.spec, cfg.time_steps = spec, steps
    for k, v in switches.items():
        cfg[k] = v
    classes = 11 if name == "bpsa_large" else 10
    if cfg.encoder == "sequence":
        shape = (shape[0], steps) + shape[1:]
    count, out = _param_count(cfg, shape, classes)
    chex.assert_shape(out.out, (steps, 1, classes))
    assert count > 0
    if cfg.local_heads == "per_conv":
        assert len(out.local_outs) == 6  # one per conv layer (llc-lif text, CIFAR-10)


def _sequence_cfg(hidden, kind="ce_lif", recurrent=()):
    cfg = models.default_model_config()
    cfg.arch = "sequence"
    cfg.hidden = hidden
    cfg.encoder = "pixel"
    cfg.recurrent_layers = recurrent
    cfg.neuron.kind = kind
    return cfg


@pytest.mark.parametrize(
    "hidden,recurrent,expected",
    [
        ((64, 152, 152), (), 153_962),  # ce-lif Table 1: 153.9k
        ((64, 88, 88), (), 83_562),  # 83.5k
        ((64, 152, 152), (0, 1), 181_378),  # recurrent: 181.4k
        ((64, 136, 136), (0, 1), 158_386),  # recurrent: 158.3k
    ],
)
def test_ce_lif_parameter_counts_of_table_1(hidden, recurrent, expected):
    count, out = _param_count(_sequence_cfg(hidden, recurrent=recurrent), (2, 28, 28, 1))
    assert count == expected
    chex.assert_shape(out.out, (784, 2, 10))


def test_lif_baseline_has_no_temporal_encoding():
    count, _ = _param_count(_sequence_cfg((64, 256, 256), kind="lif"), (2, 28, 28, 1))
    assert count == 128 + 16_640 + 65_792 + 2_570  # ce-lif Table 1's LIF* feedforward: 85.1k


def test_static_first_layer_equals_running_it_every_step():
    """Under direct coding the first conv runs once on [B, ...]; feeding the same input as a
    pre-encoded sequence (which runs the conv at every step) gives the same eval outputs."""
    cfg = models.default_model_config()
    cfg.spec = "8c3-p2-16-10"
    cfg.time_steps = 4
    cfg.neuron.v_th = 0.3
    x = jax.random.uniform(jax.random.PRNGKey(0), (3, 6, 6, 1))
    direct = models.build_model(cfg, 10)
    v = direct.init({"params": jax.random.PRNGKey(1), "dropout": jax.random.PRNGKey(2)}, x, train=False)
    cfg.encoder = "sequence"
    per_step = models.build_model(cfg, 10)
    x_seq = jnp.broadcast_to(x[:, None], (3, 4, 6, 6, 1))
    a, b = direct.apply(v, x, train=False).out, per_step.apply(v, x_seq, train=False).out
    assert 0 < float(a.mean()) < 1
    chex.assert_trees_all_close(a, b, atol=1e-6)


def test_rate_coding_draws_from_the_encoder_stream():
    cfg = models.default_model_config()
    cfg.spec = "30-10"
    cfg.encoder = "rate"
    cfg.time_steps = 5
    model = models.build_model(cfg, 10)
    x = jax.random.uniform(jax.random.PRNGKey(0), (2, 6, 6, 1)).reshape(2, 36)
    v = model.init({"params": jax.random.PRNGKey(1), "encoder": jax.random.PRNGKey(2)}, x, train=False)
    out1 = model.apply(v, x, train=False, rngs={"encoder": jax.random.PRNGKey(3)})
    out2 = model.apply(v, x, train=False, rngs={"encoder": jax.random.PRNGKey(3)})
    chex.assert_trees_all_equal(out1, out2)
    with pytest.raises(Exception, match="encoder"):
        model.apply(v, x, train=False)


def test_unknown_arch_and_switch_values_are_rejected():
    cfg = models.default_model_config()
    cfg.arch = "transformer"
    with pytest.raises(ValueError, match="unknown model.arch 'transformer'"):
        models.build_model(cfg, 10)
    cfg = models.default_model_config()
    cfg.norm = "layer_norm"
    with pytest.raises(ValueError, match="model.norm must be one of"):
        models.build_model(cfg, 10)
