"""Spec strings, every paper architecture, parameter counts, and the static first layer."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import jitted
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
        ("100-128c3-10", "conv/pool/subsample layers must come before dense"),
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


# Parameter counts by hand. Conv 3×3 C→F: 9·C·F (no bias under a norm); BN/LLC-BN: λ, β per channel
# (2F), plus LLC-BN's own leak w (1) when no LLC-LIF leak is shared; dense N→M: N·M + M; LIF has no
# parameter. Spatial sizes with "same" convs and floor pooling.
PAPER_NETS = {
    # name: (spec, input shape, time steps, extra switches, parameter count)
    # convs 9·3·256 + 5·9·256·256 = 2,956,032; 6 LLC-BN (LIF neurons: own w) 6·513 = 3,078;
    # fc 16384·2048 + 2048 + 2048·100 + 100 = 33,761,380; six local heads, three on 256·32·32 and
    # three on 256·16·16 features, → 100 each: 3·26,214,500 + 3·6,553,700 = 98,304,600.
    "llc_lif_cifar10": ("256c3-256c3-256c3-p2-256c3-256c3-256c3-p2-2048-dp-100-10", (1, 32, 32, 3), 8, {"norm": "llc_bn", "local_heads": "per_conv"}, 135_025_090),
    # convs 1,152 + 147,456 + 294,912; BN 2·512; fc 12544·4096 + 4096 + 4096·100 + 100.
    "bpsa_small": ("128c3-mp2-128c3-256c3-mp2-4096-dp-100-10", (1, 28, 28, 1), 16, {"relu_before_neuron": True}, 52_238_564),
    # convs 3,456 + 147,456 + 294,912 + 1,179,648; BN 2·1024; 512 features: 512·512 + 512 + 512·100 + 100.
    "bpsa_middle": ("128c3-mp2-128c3-mp2-256c3-mp2-512c3-ap4-512-100-10", (1, 32, 32, 3), 16, {"relu_before_neuron": True}, 1_941_476),
    # convs 2,304 + 2·147,456 + 294,912 + 1,179,648 + 4,718,592; BN 2·2176; 128 → 8 → ap4 → 2×2×1024 =
    # 4096 features: 4096·1024 + 1024 + 1024·110 + 110.
    "bpsa_large": ("128c3-128c3-ap2-128c3-ap2-256c3-ap2-512c3-ap2-1024c3-ap4-dp-1024-110-11", (1, 128, 128, 2), 16, {"relu_before_neuron": True, "encoder": "sequence"}, 10_802_798),
    # convs 1,152 + 147,456; BN 2·256; fc 6272·2048 + 2048 + 2048·100 + 100.
    "spikingjelly_anchor": ("128c3-p2-128c3-p2-dp-2048-dp-100-10", (1, 28, 28, 1), 8, {}, 13_201_124),
}


@pytest.mark.parametrize("name", sorted(PAPER_NETS))
def test_paper_architectures_build(name):
    spec, shape, steps, switches, expected = PAPER_NETS[name]
    cfg = models.default_model_config()
    cfg.spec, cfg.time_steps = spec, steps
    for k, v in switches.items():
        cfg[k] = v
    classes = 11 if name == "bpsa_large" else 10
    if cfg.encoder == "sequence":
        shape = (shape[0], steps) + shape[1:]
    count, out = _param_count(cfg, shape, classes)
    chex.assert_shape(out.out, (steps, 1, classes))
    assert count == expected
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


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["8c3-p2-16-10", "30-16-10"])
def test_static_first_layer_equals_running_it_every_step(spec):
    """Under direct coding the first conv or dense layer runs once on [B, ...]; feeding the same
    input as a pre-encoded sequence (which runs that layer at every step) gives the same outputs and,
    to float32 rounding, the same parameter gradients (the static layer's sum over time comes first)."""
    cfg = models.default_model_config()
    cfg.spec = spec
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

    def grads(model, inputs):
        loss = lambda p: jnp.sum(model.apply({**v, "params": p}, inputs, train=False).out * jnp.arange(10.0)[None, None])
        return jax.grad(loss)(v["params"])

    g_direct, g_seq = grads(direct, x), grads(per_step, x_seq)
    assert all(float(jnp.abs(g).max()) > 0 for g in jax.tree_util.tree_leaves(g_direct))
    if spec == "30-16-10":  # the first matmul is one [B, 36] @ [36, 30], not one over T·B rows
        jaxpr = jax.make_jaxpr(lambda x: direct.apply(v, x, train=False).out)(x).jaxpr
        lhs = [e.invars[0].aval.shape for e in jaxpr.eqns if e.primitive.name == "dot_general"]
        assert (3, 36) in lhs and (12, 36) not in lhs
    chex.assert_trees_all_close(g_direct, g_seq, rtol=1e-5, atol=1e-6)


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


# --------------------------------------------------------------------------- released-code switches
# Each switch of docs/papers.md §1.7 / §2.7 on tiny shapes: what it changes, and that its default
# (the paper text) is what the model did before.

from snnjax.layers import pool  # noqa: E402
from snnjax.layers.spiking import NeuronConfig  # noqa: E402
from snnjax.models.conv_net import ConvBlock, ConvOptions  # noqa: E402


def _constant_drive_block(calls, split=False, steps=4):
    """A 1×1 conv block without norm whose neurons (no leak, v_th 1) see a current of 0.3 per call."""
    opts = ConvOptions(time_steps=steps, norm="none", ossa=split, ossa_onset="separate" if split else "shared")
    neuron = NeuronConfig(kind="lif", decay=1.0, v_th=1.0)
    block = ConvBlock(1, 1, neuron, opts, calls=calls, split=split)
    x = jnp.ones((steps, 1, 1, 1, 1))
    params = {"conv": {"kernel": jnp.full((1, 1, 1, 1), 0.3), "bias": jnp.zeros((1,))}}
    return block, x, params


def test_double_trunk_call_reaches_threshold_in_half_the_steps():
    block, x, params = _constant_drive_block(calls=1)
    once, _ = block.apply({"params": params}, x, train=False)
    np.testing.assert_array_equal(np.asarray(once)[:, 0, 0, 0, 0], [0, 0, 0, 1])  # 4 × 0.3 ≥ 1 at t = 3
    block, x, params = _constant_drive_block(calls=2)
    twice, _ = block.apply({"params": params}, x, train=False)
    calls = np.asarray(twice)[:, 0, 0, 0, 0].reshape(4, 2)  # [step, call]
    np.testing.assert_array_equal(calls, [[0, 0], [0, 1], [0, 0], [0, 1]])  # threshold at t = 1


@pytest.mark.slow
def test_split_first_neuron_forgets_the_first_step():
    """With two onset neurons the t ≥ 1 neuron starts from rest at t = 1: its output at t = 1 does not
    depend on the input at t = 0; with one neuron carried over all T it does."""
    x = jax.random.uniform(jax.random.PRNGKey(0), (3, 2, 4, 4, 1))
    neuron = NeuronConfig(kind="llc_lif", v_th=0.5, surrogate="atan")
    for split, depends in ((True, False), (False, True)):
        opts = ConvOptions(time_steps=3, norm="none", ossa=True, ossa_onset="separate", first_neuron="split" if split else "shared")
        block = ConvBlock(3, 3, neuron, opts, split=split)
        v = block.init(jax.random.PRNGKey(1), x, train=False)
        if split:
            assert set(v["params"]) == {"conv", "onset_neuron", "neuron"}
            assert set(v["params"]["onset_neuron"]) == {"a"} and set(v["params"]["neuron"]) == {"a"}
        g = jax.grad(lambda x: block.apply(v, x, train=False)[0][1].sum())(x)
        assert (float(jnp.abs(g[0]).sum()) > 0) == depends
        assert float(jnp.abs(g[1]).sum()) > 0


def _tiny(**switches):
    cfg = models.default_model_config()
    cfg.spec = "4c3-ap2-4c3-ap2-24-10"  # a dense output layer (24 is no multiple of 10: no voting)
    cfg.time_steps = 3
    cfg.neuron.v_th = 0.3
    for k, v in switches.items():
        cfg[k] = v
    return cfg


TINY_X = jax.random.uniform(jax.random.PRNGKey(5), (2, 8, 8, 1))
TINY_RNGS = {"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}
LLC_CODE = dict(
    norm="llc_bn", llc_bn_leak="own", ossa=True, ossa_form="code", ossa_onset="separate", local_heads="code"
)


@pytest.mark.slow
def test_double_trunk_call_feeds_the_head_the_first_call_and_the_local_head_the_second():
    cfg = _tiny(**LLC_CODE, trunk_calls=2, first_neuron="split", norm_stats="per_step")
    cfg.neuron.kind = "llc_lif"
    model = models.build_model(cfg, 10)
    v = jitted.init(model, TINY_RNGS, TINY_X, train=False)
    capture = lambda m, _: m.name in ("conv0", "onset_conv1", "conv1", "fc0", "SeqDense_0")
    out, inter = jitted.apply(model, v, TINY_X, train=False, capture_intermediates=capture, mutable=["intermediates"])
    inter = inter["intermediates"]
    chex.assert_shape(inter["conv0"]["__call__"][0][0], (6, 2, 8, 8, 4))  # 2 calls × 3 steps
    chex.assert_shape(inter["onset_conv1"]["__call__"][0][0], (2, 2, 4, 4, 4))  # t = 0, twice
    chex.assert_shape(inter["conv1"]["__call__"][0][0], (4, 2, 4, 4, 4))  # t = 1, 2, twice each
    chex.assert_shape(out.out, (3, 2, 10))
    assert len(out.local_outs) == 2
    # the head reads the first call of each step, the second local head the second
    trunk = jnp.concatenate([inter["onset_conv1"]["__call__"][0][0], inter["conv1"]["__call__"][0][0]])
    pooled = pool(trunk, "avg", 2).reshape(6, 2, -1)
    fc0 = v["params"]["fc0"]
    chex.assert_trees_all_close(inter["fc0"]["__call__"][0], pooled[0::2] @ fc0["kernel"] + fc0["bias"][None, None], atol=1e-6)
    lin = v["params"]["local1"]["SeqDense_0"]
    local_current = pooled[1::2] @ lin["kernel"] + lin["bias"][None, None]
    chex.assert_trees_all_close(inter["local1"]["SeqDense_0"]["__call__"][0], local_current, atol=1e-6)
    assert not np.allclose(np.asarray(pooled[0::2]), np.asarray(pooled[1::2]))  # the calls differ
    # running statistics: every LLC-BN of the trunk advances once per call (two updates per step)
    _, state = jitted.apply(
        model, v, TINY_X, train=True, rngs={"dropout": jax.random.PRNGKey(2)}, mutable=["batch_stats", "intermediates"],
        capture_intermediates=lambda m, _: m.name == "conv",
    )
    assert set(state["batch_stats"]) == {"conv0", "onset_conv1", "conv1"}
    for block, n_calls in (("onset_conv1", 2), ("conv1", 4)):
        pre = np.asarray(state["intermediates"][block]["conv"]["__call__"][0], np.float64)  # [calls, B, H, W, C]
        assert pre.shape[0] == n_calls
        mean = np.zeros(pre.shape[-1])
        for call in pre:  # PyTorch's BatchNorm, called once per call, momentum 0.1
            mean = 0.9 * mean + 0.1 * call.mean(axis=(0, 1, 2))
        np.testing.assert_allclose(np.asarray(state["batch_stats"][block]["norm"]["mean"]), mean, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_code_switches_default_to_the_text_model():
    """The new keys at their defaults build the same parameters and outputs as before (text)."""
    base = _tiny(norm="llc_bn", ossa=True, local_heads="per_conv")
    explicit = _tiny(
        norm="llc_bn", ossa=True, local_heads="per_conv", trunk_calls=1, first_neuron="shared", dense_bias=True,
        norm_stats="pooled", static_norm_updates="once", dense_relu=False, dropout_site="spikes", conv_bias=False,
    )
    m1, m2 = models.build_model(base, 10), models.build_model(explicit, 10)
    v = jitted.init(m1, TINY_RNGS, TINY_X, train=False)
    chex.assert_trees_all_equal_shapes(v, jitted.init(m2, TINY_RNGS, TINY_X, train=False))
    a = jitted.apply(m1, v, TINY_X, train=True, rngs={"dropout": jax.random.PRNGKey(2)}, mutable=["batch_stats"])
    b = jitted.apply(m2, v, TINY_X, train=True, rngs={"dropout": jax.random.PRNGKey(2)}, mutable=["batch_stats"])
    chex.assert_trees_all_equal(a, b)


@pytest.mark.slow
def test_no_dense_bias_and_conv_bias_switches():
    v = models.build_model(_tiny(dense_bias=False, local_heads="code"), 10).init(TINY_RNGS, TINY_X, train=False)
    for name in ("fc0", "fc1"):
        assert set(v["params"][name]) == {"kernel"}
    for name in ("local0", "local1"):
        assert set(v["params"][name]["SeqDense_0"]) == {"kernel"}
    assert "bias" not in v["params"]["conv0"]["conv"]
    v = models.build_model(_tiny(conv_bias=True), 10).init(TINY_RNGS, TINY_X, train=False)
    assert set(v["params"]["conv0"]["conv"]) == {"kernel", "bias"}  # kept under the norm
    assert set(v["params"]["fc0"]) == {"kernel", "bias"}


def test_dense_relu_acts_on_hidden_dense_layers_only():
    """With v_th = 0 a neuron fires whenever its membrane is >= 0: after a ReLU every hidden dense
    neuron fires at every step, while the output layer (no ReLU) does not."""
    rates = {}
    for relu in (False, True):
        cfg = _tiny(dense_relu=relu)
        cfg.neuron.v_th = 0.0
        model = models.build_model(cfg, 10)
        v = model.init(TINY_RNGS, TINY_X, train=False)
        _, state = model.apply(v, TINY_X, train=False, mutable=["spikes"])
        rates[relu] = {k: float(state["spikes"][k]["rate"][0]) for k in ("fc0_neuron", "fc1_neuron")}
    assert rates[True]["fc0_neuron"] == 1.0
    assert rates[False]["fc0_neuron"] < 1.0
    assert rates[True]["fc1_neuron"] < 1.0


def test_dropout_on_the_current_drops_neurons_before_they_fire():
    cfg = _tiny()
    cfg.spec = "16-dp-10"
    cfg.time_steps = 6
    cfg.neuron.decay = 1.0
    cfg.neuron.v_th = 0.5
    x = jnp.zeros((3, 5))
    outs = {}
    for site in ("spikes", "current"):
        cfg.dropout_site = site
        model = models.build_model(cfg, 10)
        v = model.init(TINY_RNGS, x, train=False)
        params = {**v["params"], "fc0": {"kernel": jnp.zeros((5, 16)), "bias": jnp.full((16,), 0.3)}}
        capture = lambda m, _: m.name == "fc0_neuron"
        _, inter = model.apply(
            {"params": params}, x, train=True, rngs={"dropout": jax.random.PRNGKey(4)},
            capture_intermediates=capture, mutable=["intermediates", "spikes", "synops"],
        )
        outs[site] = np.asarray(inter["intermediates"]["fc0_neuron"]["__call__"][0])  # [T, B, 16]
    # on the spikes: the neuron sees 0.3 per step and fires every second step, the mask comes after
    np.testing.assert_array_equal(outs["spikes"], np.broadcast_to(np.array([0, 1] * 3)[:, None, None], (6, 3, 16)))
    # on the current: kept neurons see 0.6 and fire every step, dropped ones never fire
    kept = outs["current"][0] == 1
    assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(outs["current"], np.broadcast_to(kept, (6, 3, 16)).astype(np.float32))


def test_released_switch_values_are_checked():
    for key, value, message in [
        ("trunk_calls", 3, "trunk_calls must be 1 or 2"),
        ("norm_stats", "per_batch", "norm_stats must be one of"),
        ("dropout_site", "input", "dropout_site must be one of"),
        ("first_neuron", "triple", "first_neuron must be"),
        ("static_norm_updates", "twice", "static_norm_updates must be"),
    ]:
        with pytest.raises(ValueError, match=message):
            models.build_model(_tiny(**{key: value}), 10)
    with pytest.raises(ValueError, match="trunk_calls=2 .* needs local_heads='code'"):
        models.build_model(_tiny(trunk_calls=2), 10)
    with pytest.raises(ValueError, match="first_neuron='split' .* needs ossa=True and ossa_onset='separate'"):
        models.build_model(_tiny(first_neuron="split"), 10)
    with pytest.raises(ValueError, match="set llc_bn_leak='own'"):
        models.build_model(_tiny(**{**LLC_CODE, "llc_bn_leak": "shared"}, first_neuron="split"), 10)


def test_subsample_token_keeps_every_second_pixel():
    assert parse_spec("s2-4c3-10", 10)[0] == Layer("subsample", 2)
    cfg = _tiny()
    cfg.spec = "s2-30-10"
    cfg.encoder = "sequence"
    model = models.build_model(cfg, 10)
    x = jax.random.uniform(jax.random.PRNGKey(0), (2, 3, 8, 8, 2))
    v = model.init(TINY_RNGS, x, train=False)
    chex.assert_shape(v["params"]["fc0"]["kernel"], (4 * 4 * 2, 30))
    capture = lambda m, _: m.name == "fc0"
    _, inter = model.apply(v, x, train=False, capture_intermediates=capture, mutable=["intermediates"])
    seen = jnp.swapaxes(x, 0, 1)[:, :, ::2, ::2].reshape(3, 2, -1)
    fc0 = v["params"]["fc0"]
    chex.assert_trees_all_close(inter["intermediates"]["fc0"]["__call__"][0], seen @ fc0["kernel"] + fc0["bias"][None, None], atol=1e-6)


@pytest.mark.slow
def test_argmax_max_pool_impl_gives_the_same_gradients():
    cfg = _tiny()
    cfg.spec = "4c3-mp2-4c3-mp2-24-10"
    cfg.neuron.surrogate = "atan"
    x, y = TINY_X, jnp.array([1, 2])
    grads = {}
    for impl in ("xla", "argmax"):
        cfg.max_pool_impl = impl
        model = models.build_model(cfg, 10)
        v = jitted.init(model, TINY_RNGS, x, train=False)

        def loss(params):
            out, _ = model.apply({**v, "params": params}, x, train=True, rngs={"dropout": jax.random.PRNGKey(2)}, mutable=["batch_stats"])
            return jnp.square(out.out.mean(0) - jax.nn.one_hot(y, 10)).sum()

        grads[impl] = jax.jit(jax.grad(loss))(v["params"])
    assert float(sum(jnp.abs(g).sum() for g in jax.tree.leaves(grads["xla"]))) > 0
    chex.assert_trees_all_close(grads["argmax"], grads["xla"], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="max_pool_impl must be one of"):
        models.build_model(_tiny(max_pool_impl="cuda"), 10)


RECORDED = ["spikes", "spike_counts", "membranes", "synops"]


@pytest.mark.parametrize("config_name", ["smoke", "smoke_llc_lif", "smoke_bpsa", "smoke_ce_lif", "smoke_nir"])
def test_init_returns_parameters_and_statistics_only_and_apply_still_records(config_name):
    """``model.init`` makes every collection mutable; the layers must not record traces there
    (membranes, spike counts, rates and synops of the init batch would come back beside the
    parameters: 23 MiB against 0.6 MiB for the smoke net at batch 64). Asked for with
    ``mutable=[...]``, an apply still records all four."""
    import importlib

    config = importlib.import_module(f"configs.{config_name}").get_config()
    model = models.build_model(config.model, 10)
    x = jnp.zeros((2, 28, 28, 1))
    rngs = {"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1), "encoder": jax.random.PRNGKey(2)}
    variables = jax.eval_shape(lambda: model.init(rngs, x, train=False))
    expected = {"params", "batch_stats"} if config.model.norm != "none" and config.model.arch == "conv" else {"params"}
    assert set(variables) == expected
    _, cols = jax.eval_shape(lambda v: model.apply(v, x, train=False, rngs=rngs, mutable=RECORDED), variables)
    assert set(cols) == set(RECORDED)
    assert len(jax.tree.leaves(cols["membranes"])) >= 1 and len(jax.tree.leaves(cols["spike_counts"])) >= 1
