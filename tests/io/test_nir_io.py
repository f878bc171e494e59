"""NIR export/import: round trip through a file, the LIF mapping, rejections, hand-built graphs,
the time step and the threshold rule.

The NumPy references integrate NIR's continuous equations with forward Euler, written out here from
the NIR node docstrings (threshold ``v > v_threshold``, reset to ``v_reset``), independently of
snnjax.nir. tests/io/test_nir_interop.py runs the same files through SpikingJelly, snnTorch and Norse.
"""

import itertools

import jax
import jax.numpy as jnp
import jitted
import numpy as np
import numpy_neurons as ref
import pytest
from trained_like import nir_net_config, trained_like_variables

nir = pytest.importorskip("nir")

from snnjax import layers, models, neurons
from snnjax import nir as nir_io

T = 4


# ------------------------------------------------------------------------------------------------
# NumPy forward-Euler references of NIR's node equations
# ------------------------------------------------------------------------------------------------


def euler_lif(current, tau, r, v_leak, v_threshold, v_reset, dt):
    """τ dv/dt = v_leak − v + R I; z = v > v_threshold; v ← v_reset where z."""
    v = np.zeros(current.shape[1:])
    spikes = []
    for i_t in current:
        v = v + dt / tau * (v_leak - v + r * i_t)
        z = v > v_threshold
        v = np.where(z, v_reset, v)
        spikes.append(z.astype(np.float64))
    return np.stack(spikes), v


def euler_if(current, r, v_threshold, v_reset, dt):
    """dv/dt = R I; z = v > v_threshold; v ← v_reset where z."""
    v = np.zeros(current.shape[1:])
    spikes = []
    for i_t in current:
        v = v + dt * r * i_t
        z = v > v_threshold
        v = np.where(z, v_reset, v)
        spikes.append(z.astype(np.float64))
    return np.stack(spikes)


def euler_li(current, tau, r, v_leak, dt):
    """τ dv/dt = v_leak − v + R I; output v."""
    v = np.zeros(current.shape[1:])
    out = []
    for i_t in current:
        v = v + dt / tau * (v_leak - v + r * i_t)
        out.append(v)
    return np.stack(out)


def euler_cuba_lif(spikes_in, tau_syn, tau_mem, r, v_leak, v_threshold, v_reset, w_in, dt):
    """τ_syn dI/dt = −I + w_in S; τ_mem dv/dt = v_leak − v + R I (with the updated I)."""
    i_syn = np.zeros(spikes_in.shape[1:])
    v = np.zeros(spikes_in.shape[1:])
    spikes = []
    for s_t in spikes_in:
        i_syn = i_syn + dt / tau_syn * (-i_syn + w_in * s_t)
        v = v + dt / tau_mem * (v_leak - v + r * i_syn)
        z = v > v_threshold
        v = np.where(z, v_reset, v)
        spikes.append(z.astype(np.float64))
    return np.stack(spikes)


def conv2d_nchw(x, weight, bias, pad):
    """PyTorch's Conv2d (stride 1, symmetric zero padding) on [N, C, H, W], as explicit patches."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    _, _, kh, kw = weight.shape
    h, w = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    out = np.zeros((x.shape[0], weight.shape[0], h, w))
    for i in range(h):
        for j in range(w):
            out[:, :, i, j] = np.einsum("ncyx,ocyx->no", xp[:, :, i : i + kh, j : j + kw], weight)
    return out + bias[None, :, None, None]


def sum_pool_nchw(x, k):
    n, c, h, w = x.shape
    return x[:, :, : h // k * k, : w // k * k].reshape(n, c, h // k, k, w // k, k).sum(axis=(3, 5))


def _chain(*named_nodes, metadata=None):
    names = [n for n, _ in named_nodes]
    return nir.NIRGraph(nodes=dict(named_nodes), edges=list(itertools.pairwise(names)), metadata=metadata or {})


def _write_read(graph, tmp_path, name="graph.nir"):
    path = tmp_path / name
    nir.write(path, graph)
    return nir.read(path)


# ------------------------------------------------------------------------------------------------
# (a) Round trip: ConvSNN -> export -> file -> import == model.apply
# ------------------------------------------------------------------------------------------------


ROUND_TRIPS = {
    # name: (spec, input shape, config changes, export options)
    "llc_lif_llc_bn": ("4c3-ap2-6c3-ap2-20-10", (10, 10, 1), {"norm": "llc_bn", "neuron.kind": "llc_lif"}, {}),
    "decay_input_per_channel_bn_dropout_sum_pool": (
        "4c3-ap2-dp-6c3-ap2-dp-20-10",
        (10, 10, 2),
        {"norm": "bn", "neuron.kind": "llc_lif", "neuron.decay_input": True, "neuron.v_th": 0.2, "neuron.per_channel": True},
        {"sum_pool": True, "dt": 1e-3},
    ),
    "lif_dense_only_no_norm": ("16-20-10", (6, 6, 2), {"norm": "none", "neuron.decay": 0.6}, {}),
    # the spec's threshold rule (v > v_th) and the IF kind (NIR IF nodes)
    "strict_threshold_if_neurons": (
        "4c3-ap2-20-10", (10, 10, 1), {"norm": "bn", "neuron.kind": "if", "neuron.strict_threshold": True}, {},
    ),
    # released-code switches that NIR can express: no dense bias, conv bias under BN, per-step
    # statistics and dropout on the current (training-only), as in the ``_code`` configs
    "released_code_biases": (
        "4c3-ap2-6c3-ap2-dp-20-dp-10",
        (10, 10, 1),
        {"norm": "bn", "dense_bias": False, "conv_bias": True, "norm_stats": "per_step", "dropout_site": "current"},
        {},
    ),
}


def _config(spec, changes):
    return nir_net_config(spec, changes, T)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_round_trip_through_a_file_equals_model_apply(name, tmp_path):
    spec, shape, changes, options = ROUND_TRIPS[name]
    cfg = _config(spec, changes)
    with jax.enable_x64(True):
        x = jax.random.uniform(jax.random.PRNGKey(0), (3,) + shape, jnp.float64)
        model = models.build_model(cfg, 10)
        variables = jax.tree.map(lambda a: a.astype(jnp.float64), trained_like_variables(model, x.astype(jnp.float32)))
        expected = np.asarray(jitted.apply(model, variables, x, train=False).out)
        graph = _write_read(nir_io.export_nir(cfg, variables, shape, **options), tmp_path)
        apply_fn, params = nir_io.import_nir(graph, input_layout="nhwc", dtype=jnp.float64)
        x_seq = jnp.broadcast_to(x, (T,) + x.shape)  # direct coding: the same input at every step
        out, hidden = jax.jit(apply_fn, static_argnums=2)(params, x_seq, True)
        rates = {k: float(v.mean()) for k, v in hidden.items() if k.endswith("_neuron")}

    assert out.shape == (T, 3, 10)
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-5)
    # not vacuous: every spiking layer fires, but not everywhere
    assert rates and all(0 < r < 1 for r in rates.values()), rates
    assert 0 < float(expected.mean()) < 1
    assert graph.metadata["time_steps"] == T and float(graph.metadata["dt"]) == options.get("dt", 1e-4)
    strict = changes.get("neuron.strict_threshold", False)
    assert graph.metadata["spike_condition"] == ("v > v_threshold" if strict else "v >= v_threshold")
    kinds = {type(node).__name__ for node in graph.nodes.values()}
    assert ("IF" in kinds and "LIF" not in kinds) if changes.get("neuron.kind") == "if" else "LIF" in kinds


@pytest.mark.slow
def test_export_layouts_node_kinds_and_training_only_parts():
    cfg = _config("4c3-ap2-dp-6c3-ap2-20-dp-10", {"norm": "none", "neuron.kind": "llc_lif", "local_heads": "code"})
    x = jnp.zeros((1, 10, 10, 3))
    model = models.build_model(cfg, 10)
    variables = jitted.init(model, {"params": jax.random.PRNGKey(0)}, x, train=False)
    assert "local0" in variables["params"]
    with pytest.warns(UserWarning, match="drops the local classifier heads"):
        graph = nir_io.export_nir(cfg, variables, (10, 10, 3))
    kinds = [type(graph.nodes[n]).__name__ for n in nir_io.chain_order(graph)]
    assert kinds == [
        "Input", "Conv2d", "LIF", "AvgPool2d", "Conv2d", "LIF", "AvgPool2d", "Flatten", "Affine", "LIF", "Affine", "Output",
    ]  # fmt: skip
    np.testing.assert_array_equal(graph.nodes["input"].input_type["input"], [3, 10, 10])  # C, H, W
    kernel = np.asarray(variables["params"]["conv1"]["conv"]["kernel"])  # HWIO
    np.testing.assert_array_equal(graph.nodes["conv1"].weight, kernel.transpose(3, 2, 0, 1))  # OIHW
    np.testing.assert_array_equal(graph.nodes["flatten"].output_type["output"], [24])
    vote = graph.nodes["vote"].weight  # 1/G on each class's group of G = 2
    np.testing.assert_allclose(vote[3], np.r_[np.zeros(6), [0.5, 0.5], np.zeros(12)])
    np.testing.assert_array_equal(graph.nodes["vote"].bias, np.zeros(10))
    leak = float(jax.nn.sigmoid(variables["params"]["conv0"]["a"]))
    np.testing.assert_allclose(graph.nodes["conv0_neuron"].tau, 1e-4 / (1 - leak), rtol=1e-6)  # the default dt
    assert graph.metadata["dt"] == 1e-4


# ------------------------------------------------------------------------------------------------
# (b) The LIF mapping against forward Euler of NIR's LIF
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("decay_input", [False, True])
@pytest.mark.parametrize("dt", [1.0, 1e-4])
def test_lif_mapping_equals_forward_euler_of_nir_lif(decay_input, dt):
    rng = np.random.default_rng(0)
    k = rng.uniform(0.05, 0.95, size=16)
    x = rng.normal(0.4, 1.0, size=(40, 3, 16))
    node = nir_io.lif_to_nir(k, 0.7, (16,), decay_input=decay_input, dt=dt)
    assert isinstance(node, nir.LIF)
    np.testing.assert_allclose(node.tau, dt / (1 - k))
    np.testing.assert_allclose(node.r, np.ones(16) if decay_input else 1 / (1 - k))
    np.testing.assert_array_equal(node.v_leak, 0.0)
    np.testing.assert_array_equal(node.v_reset, 0.0)
    np.testing.assert_array_equal(node.v_threshold, 0.7)

    s_ours, v_ours = ref.lif(x, k, 0.7, decay_input=decay_input)  # h = k v + x  (or k v + (1-k) x)
    s_nir, v_nir = euler_lif(x, node.tau, node.r, node.v_leak, node.v_threshold, node.v_reset, dt)
    assert 0 < s_ours.mean() < 1
    np.testing.assert_array_equal(s_nir, s_ours)
    np.testing.assert_allclose(v_nir, v_ours, atol=1e-9)


@pytest.mark.parametrize("decay_input", [False, True])
def test_llc_lif_mapping_closed_form(decay_input):
    a = np.array([-2.0, -0.3, 0.0, 0.8, 2.5])
    k = np.asarray(neurons.llc_leak(a, decay_input), np.float64)
    node = nir_io.lif_to_nir(k, 1.0, (5,), decay_input=decay_input, dt=1.0)
    # k = sigmoid(a): tau = R = 1 + e^a;  decay_input (k = sigmoid(-a)): tau = 1 + e^-a, R = 1
    np.testing.assert_allclose(node.tau, 1 + np.exp(-a if decay_input else a), rtol=1e-6)
    np.testing.assert_allclose(node.r, np.ones(5) if decay_input else 1 + np.exp(a), rtol=1e-6)


def test_no_leak_is_if_and_mixed_leak_one_is_rejected():
    node = nir_io.lif_to_nir(1.0, 0.5, (4,), dt=0.5)
    assert isinstance(node, nir.IF)
    np.testing.assert_allclose(node.r, 2.0)  # dt R = 1
    x = np.random.default_rng(1).normal(0.2, 0.5, size=(20, 4))
    np.testing.assert_array_equal(euler_if(x, node.r, node.v_threshold, node.v_reset, 0.5), ref.lif(x, 1.0, 0.5)[0])
    with pytest.raises(ValueError, match="exactly 1 for some neurons"):
        nir_io.lif_to_nir(np.array([1.0, 0.5]), 0.5, (2,))


@pytest.mark.parametrize("dt", [1.0, 0.3])
def test_imported_lif_and_if_equal_forward_euler_with_leak_and_reset(dt):
    rng = np.random.default_rng(2)
    n = 12
    lif = nir.LIF(
        tau=rng.uniform(1.0, 4.0, n), r=rng.uniform(0.5, 2.0, n), v_leak=rng.uniform(-0.2, 0.3, n),
        v_threshold=rng.uniform(0.5, 1.0, n), v_reset=rng.uniform(-0.3, 0.1, n),
    )  # fmt: skip
    if_node = nir.IF(r=rng.uniform(0.5, 2.0, n), v_threshold=rng.uniform(0.5, 1.0, n), v_reset=rng.uniform(-0.3, 0.1, n))
    x = rng.normal(0.3, 1.0, size=(30, 2, n))
    for node, expected in [
        (lif, euler_lif(x, lif.tau, lif.r, lif.v_leak, lif.v_threshold, lif.v_reset, dt)[0]),
        (if_node, euler_if(x, if_node.r, if_node.v_threshold, if_node.v_reset, dt)),
    ]:
        graph = _chain(("input", nir.Input(np.array([n]))), ("neuron", node), ("output", nir.Output(np.array([n]))))
        with jax.enable_x64(True):
            apply_fn, params = nir_io.import_nir(graph, dt=dt, dtype=jnp.float64)
            got = np.asarray(apply_fn(params, jnp.asarray(x)))
        assert 0 < expected.mean() < 1
        np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------------------------------------
# (c) What cannot be exported or imported
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec,changes,message",
    [
        ("4c3-p2-20-10", {"pool": "max"}, r"max pooling \(mp2\): NIR 1.0 has no max-pool node; use avg pooling \(ap2\)"),
        ("4c3-mp2-20-10", {}, r"max pooling \(mp2\)"),
        ("4c3-ap2-20-10", {"neuron.kind": "alif"}, r"ALIF neurons"),
        ("4c3-ap2-20-10", {"neuron.kind": "ce_lif"}, r"CE-LIF neurons"),
        ("4c3-ap2-20-10", {"neuron.reset": "soft"}, r"soft reset"),
        # the peers' neuron kinds and threshold options are refused, not written as plain LIF
        ("4c3-ap2-20-10", {"neuron.kind": "plif"}, r"'plif' neurons .*maps only lif, llc_lif, if"),
        ("4c3-ap2-20-10", {"neuron.kind": "leaky"}, r"'leaky' neurons"),
        ("4c3-ap2-20-10", {"neuron.kind": "cuba_lif"}, r"'cuba_lif' neurons"),
        ("4c3-ap2-20-10", {"neuron.learn_threshold": True}, r"learned threshold"),
        ("4c3-ap2-20-10", {"ossa": True}, r"OSSA"),
        ("4c3-ap2-20-10", {"relu_before_neuron": True}, r"ReLU before the neurons"),
        # the released-code switches of the ``_code`` configs
        ("4c3-ap2-20-10", {"ossa": True, "ossa_onset": "separate", "local_heads": "code", "trunk_calls": 2}, r"model.trunk_calls=2"),
        ("4c3-ap2-20-10", {"ossa": True, "ossa_onset": "separate", "first_neuron": "split"}, r"model.first_neuron='split'"),
        ("4c3-ap2-20-10", {"dense_relu": True}, r"model.dense_relu=True"),
        ("s2-4c3-ap2-20-10", {}, r"subsampling \(s2\): NIR 1.0 has no resize node"),
        ("4c3-ap2-20-10", {"neuron.surrogate": "bpsa_code"}, r"neuron.surrogate='bpsa_code'.*export with surrogate='bpsa'"),
    ],
)
def test_unsupported_models_raise_naming_the_part(spec, changes, message):
    cfg = _config(spec, changes)
    if "pool" in changes:
        cfg.pool = changes["pool"]
    with pytest.raises(ValueError, match=message):
        nir_io.export_nir(cfg, {"params": {}}, (10, 10, 1))


def test_every_unsupported_part_is_named_at_once():
    cfg = _config("4c3-mp2-20-10", {"neuron.kind": "alif", "neuron.reset": "soft"})
    with pytest.raises(ValueError) as err:
        nir_io.export_nir(cfg, {"params": {}}, (10, 10, 1))
    for part in ("max pooling", "ALIF", "soft reset"):
        assert part in str(err.value)


def test_non_conv_models_and_wrong_input_shapes_are_rejected():
    cfg = models.default_model_config()
    cfg.arch = "sequence"
    with pytest.raises(ValueError, match="ConvSNN"):
        nir_io.export_nir(cfg, {"params": {}}, (28, 28, 1))
    cfg = _config("4c3-ap2-20-10", {"norm": "none"})
    model = models.build_model(cfg, 10)
    variables = jitted.init(model, {"params": jax.random.PRNGKey(0)}, jnp.zeros((1, 10, 10, 1)), train=False)
    with pytest.raises(ValueError, match="fc0 takes 100 inputs but input_shape gives 144"):
        nir_io.export_nir(cfg, variables, (12, 12, 1))


def test_import_rejects_unsupported_nodes_by_name():
    graph = _chain(
        ("input", nir.Input(np.array([2, 8]))),
        ("conv", nir.Conv1d(8, np.ones((3, 2, 3)), stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(3))),
        ("delay", nir.Delay(np.ones((3, 8)))),
        ("output", nir.Output(np.array([3, 8]))),
    )
    with pytest.raises(ValueError, match=r"Conv1d \('conv'\), Delay \('delay'\)"):
        nir_io.import_nir(graph)


def test_import_rejects_graphs_that_are_not_chains():
    n = 3
    nodes = {
        "input": nir.Input(np.array([n])),
        "a": nir.Affine(np.eye(n), np.zeros(n)),
        "b": nir.Affine(np.eye(n), np.zeros(n)),
        "output": nir.Output(np.array([n])),
    }
    fan_out = nir.NIRGraph(nodes=dict(nodes), edges=[("input", "a"), ("input", "b"), ("a", "output"), ("b", "output")])
    with pytest.raises(ValueError, match="linear chains only; fan-out at \\['input'\\]"):
        nir_io.import_nir(fan_out)
    recurrent = {**nodes, "lif": nir.LIF(np.ones(n) * 2, np.ones(n), np.zeros(n), np.ones(n))}
    edges = [("input", "a"), ("a", "lif"), ("lif", "b"), ("b", "lif"), ("lif", "output")]
    loop = nir.NIRGraph(nodes=recurrent, edges=edges, type_check=False)
    with pytest.raises(ValueError, match="linear chains only"):
        nir_io.import_nir(loop)


# ------------------------------------------------------------------------------------------------
# (d) Hand-built graphs against NumPy simulations
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_affine_lif_affine_lif_graph_equals_numpy(tmp_path):
    rng = np.random.default_rng(3)
    w1, b1 = rng.normal(0, 0.8, (6, 4)), rng.normal(0.2, 0.1, 6)
    w2, b2 = rng.normal(0, 0.8, (3, 6)), rng.normal(0.3, 0.1, 3)
    lif1 = nir.LIF(tau=rng.uniform(1.5, 5.0, 6), r=rng.uniform(1.0, 3.0, 6), v_leak=np.zeros(6), v_threshold=np.full(6, 0.8))
    lif2 = nir.LIF(np.full(3, 2.0), np.full(3, 2.0), v_leak=np.full(3, 0.1), v_threshold=np.full(3, 0.5), v_reset=np.full(3, -0.1))
    graph = _chain(
        ("input", nir.Input(np.array([4]))), ("fc1", nir.Affine(w1, b1)), ("lif1", lif1),
        ("fc2", nir.Affine(w2, b2)), ("lif2", lif2), ("output", nir.Output(np.array([3]))),
        metadata={"dt": 1.0},
    )  # fmt: skip
    graph = _write_read(graph, tmp_path)
    x = rng.uniform(0, 1, size=(T * 5, 7, 4))

    s1, _ = euler_lif(x @ w1.T + b1, lif1.tau, lif1.r, lif1.v_leak, lif1.v_threshold, lif1.v_reset, 1.0)
    s2, _ = euler_lif(s1 @ w2.T + b2, lif2.tau, lif2.r, lif2.v_leak, lif2.v_threshold, lif2.v_reset, 1.0)
    with jax.enable_x64(True):
        apply_fn, params = nir_io.import_nir(graph, dtype=jnp.float64)
        got = np.asarray(apply_fn(params, jnp.asarray(x)))
    assert 0 < s1.mean() < 1 and 0 < s2.mean() < 1
    np.testing.assert_array_equal(got, s2)
    assert set(params) == {"fc1", "lif1", "fc2", "lif2"}
    assert set(params["lif2"]) == {"tau", "r", "v_leak", "v_threshold", "v_reset"}


@pytest.mark.slow
def test_conv_graph_with_every_other_node_equals_numpy(tmp_path):
    rng = np.random.default_rng(4)
    dt = 0.5
    conv_w, conv_b = rng.normal(0, 0.6, (3, 2, 3, 3)), rng.normal(0.1, 0.1, 3)
    if_node = nir.IF(r=np.full((3, 6, 6), 1.5), v_threshold=np.full((3, 6, 6), 0.6), v_reset=np.zeros((3, 6, 6)))
    lin_w = rng.normal(0.1, 0.5, (8, 27))
    cuba = nir.CubaLIF(
        tau_syn=np.full(8, 2.0), tau_mem=rng.uniform(1.0, 3.0, 8), r=np.full(8, 2.0), v_leak=np.zeros(8),
        v_threshold=np.full(8, 0.3), v_reset=np.zeros(8), w_in=np.full(8, 1.5),
    )  # fmt: skip
    scale = rng.uniform(0.5, 1.5, 8)
    aff_w, aff_b = rng.normal(0, 1.0, (2, 8)), np.array([0.1, -0.1])
    li = nir.LI(tau=np.array([2.0, 3.0]), r=np.array([1.0, 2.0]), v_leak=np.array([0.0, 0.2]))
    graph = _chain(
        ("input", nir.Input(np.array([2, 6, 6]))),
        ("conv", nir.Conv2d(input_shape=(6, 6), weight=conv_w, stride=1, padding=1, dilation=1, groups=1, bias=conv_b)),
        ("if", if_node), ("pool", nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0]))),
        ("flatten", nir.Flatten(np.array([3, 3, 3]), start_dim=0)), ("linear", nir.Linear(lin_w)),
        ("cuba", cuba), ("scale", nir.Scale(scale)), ("affine", nir.Affine(aff_w, aff_b)), ("li", li),
        ("output", nir.Output(np.array([2]))),
    )  # fmt: skip
    graph = _write_read(graph, tmp_path)
    x = rng.uniform(0, 1, size=(6, 3, 2, 6, 6))  # [T, B, C, H, W]

    current = np.stack([conv2d_nchw(x_t, conv_w, conv_b, 1) for x_t in x])
    s_if = euler_if(current, if_node.r, if_node.v_threshold, if_node.v_reset, dt)
    flat = np.stack([sum_pool_nchw(s, 2) for s in s_if]).reshape(6, 3, 27)
    c = cuba
    s_cuba = euler_cuba_lif(flat @ lin_w.T, c.tau_syn, c.tau_mem, c.r, c.v_leak, c.v_threshold, c.v_reset, c.w_in, dt)
    expected = euler_li((s_cuba * scale) @ aff_w.T + aff_b, li.tau, li.r, li.v_leak, dt)
    with jax.enable_x64(True):
        apply_fn, params = nir_io.import_nir(graph, dt=dt, dtype=jnp.float64)
        got, hidden = apply_fn(params, jnp.asarray(x), return_intermediates=True)
    assert 0 < s_if.mean() < 1 and 0 < s_cuba.mean() < 1
    np.testing.assert_array_equal(np.asarray(hidden["if"]), s_if)
    np.testing.assert_array_equal(np.asarray(hidden["cuba"]), s_cuba)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_imported_network_is_differentiable_and_checks_its_input():
    n = 5
    graph = _chain(
        ("input", nir.Input(np.array([n]))), ("fc", nir.Affine(np.eye(n), np.full(n, 0.3))),
        ("lif", nir.LIF(np.full(n, 2.0), np.full(n, 2.0), np.zeros(n), np.full(n, 0.5))),
        ("output", nir.Output(np.array([n]))),
    )  # fmt: skip
    apply_fn, params = nir_io.import_nir(graph, dt=1.0)
    x = jax.random.uniform(jax.random.PRNGKey(0), (T, 3, n))
    grads = jax.grad(lambda p: apply_fn(p, x).sum())(params)
    assert all(bool(jnp.isfinite(g).all()) for g in jax.tree.leaves(grads))
    assert float(jnp.abs(grads["fc"]["weight"]).sum()) > 0  # the surrogate reaches the weights
    with pytest.raises(ValueError, match=r"x_seq must be \[T, B, \*\(5,\)\]"):
        apply_fn(params, jnp.zeros((T, 3, 4)))


# ------------------------------------------------------------------------------------------------
# (e) The time step: 1e-4 by default, written and read; never silently assumed
# ------------------------------------------------------------------------------------------------


def _one_neuron_graph(node, n, metadata=None):
    return _chain(("input", nir.Input(np.array([n]))), ("neuron", node), ("output", nir.Output(np.array([n]))),
                  metadata=metadata)  # fmt: skip


def test_export_writes_the_default_time_step_and_refuses_a_bad_one():
    cfg = _config("16-20-10", {"norm": "none", "neuron.decay": 0.75})
    model = models.build_model(cfg, 10)
    variables = jitted.init(model, {"params": jax.random.PRNGKey(0)}, jnp.zeros((1, 16)), train=False)
    graph = nir_io.export_nir(cfg, variables, (16,))
    assert nir_io.DEFAULT_DT == 1e-4 and graph.metadata["dt"] == 1e-4
    np.testing.assert_allclose(graph.nodes["fc0_neuron"].tau, 1e-4 / 0.25, rtol=1e-6)  # tau = dt / (1 - k)
    np.testing.assert_allclose(graph.nodes["fc0_neuron"].r, 4.0, rtol=1e-6)  # R = tau / dt
    assert nir_io.export_nir(cfg, variables, (16,), dt=1e-3).metadata["dt"] == 1e-3
    for bad in (0.0, -1e-4, float("nan")):
        with pytest.raises(ValueError, match=r"dt must be finite and > 0 .*got"):
            nir_io.export_nir(cfg, variables, (16,), dt=bad)


def test_import_takes_the_callers_dt_then_the_graphs_then_warns_and_assumes_1e_4():
    rng = np.random.default_rng(5)
    n = 6
    tau = rng.uniform(2e-4, 8e-4, n)  # tau/dt between 2 and 8 at dt = 1e-4
    node = nir.LIF(tau=tau, r=tau / 1e-4, v_leak=np.zeros(n), v_threshold=np.full(n, 0.7), v_reset=np.zeros(n))
    x = rng.normal(0.3, 0.6, size=(25, 2, n))
    with jax.enable_x64(True):
        def run(graph, **kw):
            apply_fn, params = nir_io.import_nir(graph, dtype=jnp.float64, **kw)
            return np.asarray(apply_fn(params, jnp.asarray(x)))

        at_1e4 = euler_lif(x, tau, node.r, node.v_leak, node.v_threshold, node.v_reset, 1e-4)[0]
        at_2e4 = euler_lif(x, tau, node.r, node.v_leak, node.v_threshold, node.v_reset, 2e-4)[0]
        assert 0 < at_1e4.mean() < 1 and not np.array_equal(at_1e4, at_2e4)
        with pytest.warns(UserWarning, match=r"does not say its time step .*assuming dt = 0.0001 s"):
            np.testing.assert_array_equal(run(_one_neuron_graph(node, n)), at_1e4)
        np.testing.assert_array_equal(run(_one_neuron_graph(node, n, {"dt": 2e-4})), at_2e4)
        np.testing.assert_array_equal(run(_one_neuron_graph(node, n, {"dt": 2e-4}), dt=1e-4), at_1e4)


@pytest.mark.parametrize(
    "node_kind,param,value,kw,message",
    [
        ("LIF", "tau", 5e-5, {}, r"NIR node 'neuron' \(LIF\): tau = 5e-05 is below dt = 0.0001, so the leak "
         r"1 - dt/tau = -1 falls outside \[0, 1\]"),
        ("LIF", "tau", 0.0, {}, r"NIR node 'neuron' \(LIF\): tau = 0; a time constant must be > 0"),
        ("LIF", "tau", -2e-4, {}, r"NIR node 'neuron' \(LIF\): tau = -0.0002; a time constant must be > 0"),
        ("LIF", "tau", np.nan, {}, r"NIR node 'neuron' \(LIF\): tau is NaN"),
        ("LIF", "r", 0.0, {}, r"NIR node 'neuron' \(LIF\): r = 0; the neuron would ignore its input"),
        ("LIF", "v_threshold", np.nan, {}, r"NIR node 'neuron' \(LIF\): v_threshold is NaN"),
        ("IF", "r", 0.0, {}, r"NIR node 'neuron' \(IF\): r = 0"),
        ("IF", "v_threshold", np.nan, {}, r"NIR node 'neuron' \(IF\): v_threshold is NaN"),
        ("CubaLIF", "tau_syn", 1e-5, {}, r"NIR node 'neuron' \(CubaLIF\): tau_syn = 1e-05 is below dt"),
        ("CubaLIF", "w_in", 0.0, {}, r"NIR node 'neuron' \(CubaLIF\): w_in = 0"),
        ("LIF", None, None, {"dt": 0.0}, r"dt must be finite and > 0 \(seconds per time step\), got 0.0"),
        ("LIF", None, None, {"dt": -1e-4}, r"dt must be finite and > 0"),
        ("LIF", None, None, {"metadata": {"dt": 0.0}}, r"the graph's metadata\['dt'\] must be finite and > 0"),
    ],
)
def test_import_refuses_parameters_that_would_run_silently_wrong(node_kind, param, value, kw, message):
    n = 3
    params = {
        "LIF": dict(tau=np.full(n, 4e-4), r=np.full(n, 4.0), v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n)),
        "IF": dict(r=np.full(n, 1e4), v_threshold=np.ones(n), v_reset=np.zeros(n)),
        "CubaLIF": dict(tau_syn=np.full(n, 2e-4), tau_mem=np.full(n, 4e-4), r=np.full(n, 4.0), v_leak=np.zeros(n),
                        v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.full(n, 2.0)),
    }[node_kind]  # fmt: skip
    if param is not None:
        params[param] = params[param].copy()
        params[param][1] = value  # one bad neuron is enough
    graph = _one_neuron_graph(getattr(nir, node_kind)(**params), n, kw.get("metadata", {"dt": 1e-4}))
    with pytest.raises(ValueError, match=message):
        nir_io.import_nir(graph, **{k: v for k, v in kw.items() if k == "dt"})


# ------------------------------------------------------------------------------------------------
# (f) One threshold rule: NIR's v > v_threshold on import unless asked; strict models export
# ------------------------------------------------------------------------------------------------


def test_import_fires_on_v_above_threshold_unless_asked_for_v_at_threshold():
    # IF with dt R = 1: the membrane is the running sum, exactly 0.5 after the first step
    graph = _one_neuron_graph(nir.IF(r=np.full(1, 1e4), v_threshold=np.full(1, 0.5), v_reset=np.zeros(1)), 1, {"dt": 1e-4})
    x = jnp.full((3, 1, 1), 0.5)
    nir_rule, params = nir_io.import_nir(graph)
    snnjax_rule, _ = nir_io.import_nir(graph, strict_threshold=False)
    np.testing.assert_array_equal(np.asarray(nir_rule(params, x))[:, 0, 0], [0, 1, 0])  # 0.5, 1.0 > 0.5, reset
    np.testing.assert_array_equal(np.asarray(snnjax_rule(params, x))[:, 0, 0], [1, 1, 1])  # 0.5 >= 0.5 every step


def test_the_threshold_rule_is_stated_in_one_place():
    import pathlib

    import snnjax.nir as package

    root = pathlib.Path(package.__file__).parent
    texts = {path.name: path.read_text() for path in root.glob("*.py")}
    assert [name for name, text in texts.items() if "Threshold rule\n----" in text] == ["mapping.py"]
    assert not any("fires on v >= v_threshold" in text for text in texts.values())  # the old, wrong claim


def test_export_cli_passes_dt_through(monkeypatch, tmp_path, capsys):
    from snnjax import export

    seen = {}

    def fake_export_run(workdir, fmt, out, step, dt):
        seen.update(workdir=workdir, dt=dt)
        return tmp_path / "model.nir"

    monkeypatch.setattr(export, "export_run", fake_export_run)
    assert export.main([str(tmp_path), "--format", "nir", "--dt", "1e-3"]) == 0
    assert seen["dt"] == 1e-3
    assert export.main([str(tmp_path)]) == 0 and seen["dt"] is None  # export_nir's default, 1e-4
    with pytest.raises(SystemExit):
        export.main(["--help"])
    assert "Norse's importer assumes 1e-3" in " ".join(capsys.readouterr().out.split())


# ------------------------------------------------------------------------------------------------
# (g) Export writes only what is declared exportable; the old module name still works
# ------------------------------------------------------------------------------------------------


def test_an_option_the_exporter_does_not_declare_is_refused_by_name(monkeypatch):
    from snnjax.nir import export as nir_export

    cfg = _config("16-20-10", {"norm": "none", "dropout": 0.3})
    nir_io.export_nir(cfg, jitted.init(models.build_model(cfg, 10), {"params": jax.random.PRNGKey(0)},
                                       jnp.zeros((1, 16)), train=False), (16,))  # fmt: skip
    # the same model once dropout is no longer declared (as a new switch would not be)
    undeclared = {k: tuple(n for n in v if n != "dropout") for k, v in nir_export.EXPORTED_OPTIONS.items()}
    monkeypatch.setattr(nir_export, "EXPORTED_OPTIONS", undeclared)
    with pytest.raises(ValueError, match=r"model.dropout=0.3: the NIR exporter does not write it"):
        nir_io.export_nir(cfg, {"params": {}}, (16,))
    lif = layers.NEURON_KINDS.lookup("lif")

    class LIFWithoutDecay(type(lif)):
        nir_options = ("decay_input",)  # lif's decay, no longer declared

    with layers.NEURON_KINDS.scoped():
        layers.register_neuron("lif", LIFWithoutDecay, overwrite=True)
        cfg.neuron.decay = 0.7
        with pytest.raises(ValueError, match=r"neuron.decay=0.7: the NIR exporter does not write it"):
            nir_io.export_nir(cfg, {"params": {}}, (16,))


def test_nir_io_is_a_deprecated_alias_of_snnjax_nir():
    import importlib
    import sys

    sys.modules.pop("snnjax.nir_io", None)
    with pytest.warns(DeprecationWarning, match=r"snnjax\.nir_io moved to snnjax\.io\.nir"):
        old = importlib.import_module("snnjax.nir_io")
    assert old.export_nir is nir_io.export_nir and old.import_nir is nir_io.import_nir
    assert set(old.__all__) == set(nir_io.__all__)


class _Leak09(layers.NeuronKind):
    """A new kind, as a user writes it: LIF with its leak fixed at 0.9, no NIR form declared."""

    options = ()

    def init_state(self, cfg, params, shape, dtype):
        return neurons.lif_init_state(shape, dtype)

    def step(self, cfg, params):
        kwargs = cfg.step_kwargs(params)
        return lambda state, x_t, te_t=None: neurons.lif_step(state, x_t, decay=0.9, **kwargs)


class _Leak09AsNIR(_Leak09):
    nir_options = ()  # the node carries no option of its own: the leak is fixed

    def nir_leak(self, cfg, params):
        return 0.9


def test_a_new_kind_gets_its_nir_decision_from_what_it_declares():
    """Registered without a NIR form it is refused by name; declaring ``nir_options`` and
    ``nir_leak`` is all it takes to be written as NIR's LIF (tau = dt / (1 - k), R = 1 / (1 - k))."""
    with layers.NEURON_KINDS.scoped():
        layers.register_neuron("test_leak09", _Leak09)
        cfg = _config("16-20-10", {"norm": "none", "neuron.kind": "test_leak09"})
        variables = jitted.init(models.build_model(cfg, 10), {"params": jax.random.PRNGKey(0)}, jnp.zeros((1, 16)),
                                train=False)
        with pytest.raises(ValueError, match=r"'test_leak09' neurons \(neuron.kind='test_leak09'\): the exporter maps "
                                             r"only lif, llc_lif, if to NIR's LIF/IF nodes"):
            nir_io.export_nir(cfg, variables, (16,))
        layers.register_neuron("test_leak09", _Leak09AsNIR, overwrite=True)
        assert "test_leak09" in nir_io.nir_neuron_kinds()
        graph = nir_io.export_nir(cfg, variables, (16,))
        for name in ("fc0_neuron", "fc1_neuron"):
            node = graph.nodes[name]
            assert isinstance(node, nir.LIF)
            np.testing.assert_allclose(node.tau, 1e-4 / 0.1, rtol=1e-6)
            np.testing.assert_allclose(node.r, 10.0, rtol=1e-6)
    assert "test_leak09" not in nir_io.nir_neuron_kinds()


def test_remat_is_forward_neutral_for_the_export():
    cfg = _config("16-20-10", {"norm": "none", "neuron.remat": True})
    assert nir_io.unsupported_features(models.build_model(cfg, 10)) == []
