"""IF, PLIF, snnTorch's Leaky and CuBa LIF, the strict threshold and the learnable threshold,
against the peers' update rules written out in NumPy (and against the peers themselves where
torch, snnTorch and SpikingJelly are installed)."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import layers, neurons, surrogate
import numpy_neurons


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(0.45, 0.6, shape).astype(np.float32)


# ----------------------------------------------------------------------------- NumPy, from the peers' docs


def np_plif(x, init_tau, v_th, decay_input, reset="hard"):
    """SpikingJelly ParametricLIFNode, v_reset=0: h = v + (x - v)/τ (decay_input) or v - v/τ + x."""
    v = np.zeros(x.shape[1:])
    out = []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) / init_tau if decay_input else v - v / init_tau + x[t]
        s = (h >= v_th).astype(np.float64)
        v = h * (1 - s) if reset == "hard" else h - s * v_th
        out.append(s)
    return np.stack(out), v


def np_leaky(x, beta, thr, reset, strict):
    """snnTorch Leaky: mem = β mem + x - s_prev·thr ("subtract") or β (1 - s_prev) mem + x ("zero")."""
    mem = np.zeros(x.shape[1:])
    s = np.zeros(x.shape[1:])
    out, mems = [], []
    for t in range(x.shape[0]):
        mem = beta * mem + x[t] - s * thr if reset == "soft" else beta * (1 - s) * mem + x[t]
        s = ((mem > thr) if strict else (mem >= thr)).astype(np.float64)
        out.append(s)
        mems.append(mem)
    return np.stack(out), np.stack(mems)


def np_cuba(x, alpha, beta, thr, reset, strict):
    """snnTorch Synaptic: syn = α syn + x; mem = β mem + syn - s_prev·thr (or zero reset)."""
    syn = np.zeros(x.shape[1:])
    mem = np.zeros(x.shape[1:])
    s = np.zeros(x.shape[1:])
    out, mems = [], []
    for t in range(x.shape[0]):
        syn = alpha * syn + x[t]
        mem = beta * mem + syn - s * thr if reset == "soft" else beta * (1 - s) * mem + syn
        s = ((mem > thr) if strict else (mem >= thr)).astype(np.float64)
        out.append(s)
        mems.append(mem)
    return np.stack(out), np.stack(mems)


@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_if_neuron_is_lif_without_leak(reset):
    x = _x((12, 3, 5))
    s, state = neurons.if_neuron(jnp.asarray(x), v_th=0.9, reset=reset)
    s_np, v_np = numpy_neurons.lif(x.astype(np.float64), 1.0, 0.9, reset)
    np.testing.assert_array_equal(np.asarray(s), s_np)
    np.testing.assert_allclose(np.asarray(state.v), v_np, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_plif_matches_spikingjelly_update(decay_input, reset):
    x = _x((12, 3, 5), seed=1) * (2.0 if decay_input else 1.0)
    w = neurons.plif_w_init(3.0)
    assert math.isclose(1 / (1 / (1 + math.exp(-w))), 3.0)  # 1/sigmoid(w) = init_tau
    s, state = neurons.plif(jnp.asarray(x), jnp.float32(w), v_th=1.0, reset=reset, decay_input=decay_input)
    s_np, v_np = np_plif(x.astype(np.float64), 3.0, 1.0, decay_input, reset)
    np.testing.assert_array_equal(np.asarray(s), s_np)
    np.testing.assert_allclose(np.asarray(state.v), v_np, rtol=1e-5, atol=1e-5)


def test_plif_rejects_a_time_constant_of_one_step_or_less():
    with pytest.raises(ValueError, match="init_tau > 1"):
        neurons.plif_w_init(1.0)


@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("strict", [True, False])
def test_leaky_matches_snntorch_update(reset, strict):
    x = _x((15, 2, 6), seed=2)
    spike_fn = surrogate.strict(surrogate.atan()) if strict else surrogate.atan()
    s, state = neurons.leaky(jnp.asarray(x), decay=0.8, v_th=1.0, spike_fn=spike_fn, reset=reset)
    s_np, mem_np = np_leaky(x.astype(np.float64), 0.8, 1.0, reset, strict)
    np.testing.assert_array_equal(np.asarray(s), s_np)
    np.testing.assert_allclose(np.asarray(state.mem), mem_np[-1], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(state.spike), s_np[-1])


def test_leaky_soft_reset_is_not_lif_soft_reset_but_hard_resets_agree():
    # One spike at t=0 (mem 1.5), then no input: snnTorch subtracts thr undecayed at t=1,
    # lif subtracts before the decay. mem[1] = 0.5·1.5 - 1 = -0.25 versus lif's 0.5·(1.5 - 1) = 0.25.
    x = jnp.asarray([[1.5], [0.0]], jnp.float32)
    _, st = neurons.leaky(x, decay=0.5, v_th=1.0, reset="soft")
    _, st_lif = neurons.lif(x, decay=0.5, v_th=1.0, reset="soft")
    np.testing.assert_allclose(np.asarray(st.mem), [-0.25])
    np.testing.assert_allclose(np.asarray(st_lif.v), [0.25])
    xs = jnp.asarray(_x((20, 3, 4), seed=3))
    np.testing.assert_array_equal(np.asarray(neurons.leaky(xs, decay=0.7, reset="hard")[0]),
                                  np.asarray(neurons.lif(xs, decay=0.7, reset="hard")[0]))


@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_cuba_lif_matches_snntorch_synaptic_update(reset):
    x = _x((15, 2, 6), seed=4) * 0.6
    s, state = neurons.cuba_lif(jnp.asarray(x), decay=0.8, syn_decay=0.6, v_th=1.0,
                                spike_fn=surrogate.strict(surrogate.sigmoid()), reset=reset)
    s_np, mem_np = np_cuba(x.astype(np.float64), 0.6, 0.8, 1.0, reset, strict=True)
    np.testing.assert_array_equal(np.asarray(s), s_np)
    np.testing.assert_allclose(np.asarray(state.mem), mem_np[-1], rtol=1e-5, atol=1e-5)


def test_strict_threshold_does_not_fire_at_equality():
    u = jnp.asarray([0.5, 0.5000001, 0.4999], jnp.float32)
    np.testing.assert_array_equal(np.asarray(surrogate.sigmoid()(u, 0.5)), [1, 1, 0])
    np.testing.assert_array_equal(np.asarray(surrogate.strict(surrogate.sigmoid())(u, 0.5)), [0, 1, 0])
    g = jax.grad(lambda u: jnp.sum(surrogate.strict(surrogate.sigmoid())(u, 0.5)))(u)
    g_ref = jax.grad(lambda u: jnp.sum(surrogate.sigmoid()(u, 0.5)))(u)
    chex.assert_trees_all_equal(g, g_ref)  # the backward pass is the wrapped surrogate's


def test_learnable_threshold_is_a_parameter_with_the_surrogate_gradient():
    cfg = layers.NeuronConfig(kind="lif", decay=0.5, v_th=0.7, learn_threshold=True, surrogate="sigmoid",
                              surrogate_param=4.0)
    layer = layers.SpikingNeuron(cfg)
    x = jnp.asarray(_x((1, 4, 3), seed=5))
    variables = layer.init(jax.random.PRNGKey(0), x)
    assert float(variables["params"]["v_th"]) == pytest.approx(0.7)
    # One step: s = H(x - v_th), d sum(s)/d v_th = -Σ α σ(α(x - v_th))(1 - σ(α(x - v_th))).
    g = jax.grad(lambda p: jnp.sum(layer.apply({"params": p}, x)))(variables["params"])
    z = 4.0 * (np.asarray(x, np.float64) - 0.7)
    sig = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(float(g["v_th"]), -np.sum(4.0 * sig * (1 - sig)), rtol=1e-5)
    per_channel = layers.SpikingNeuron(cfg.replace(per_channel=True)).init(jax.random.PRNGKey(0), x)
    chex.assert_shape(per_channel["params"]["v_th"], (3,))


@pytest.mark.parametrize("kind", ["if", "plif", "leaky", "cuba_lif"])
def test_new_kinds_run_as_layers_with_carried_state(kind):
    leak = {"decay": 0.8} if kind in ("leaky", "cuba_lif") else {}  # IF has no leak, PLIF learns its own
    cfg = layers.NeuronConfig(kind=kind, v_th=0.8, reset="soft", strict_threshold=True, **leak)
    layer = layers.SpikingNeuron(cfg)
    x = jnp.asarray(_x((10, 2, 5), seed=6))
    variables = layer.init(jax.random.PRNGKey(0), x)
    whole, state = layer.apply(variables, x, return_state=True)
    s1, st = layer.apply(variables, x[:4], return_state=True)
    s2, st = layer.apply(variables, x[4:], st, return_state=True)
    np.testing.assert_array_equal(np.concatenate([s1, s2]), np.asarray(whole))
    chex.assert_trees_all_close(st, state)
    if kind == "plif":
        assert float(variables["params"]["w"]) == pytest.approx(neurons.plif_w_init(2.0))


def test_options_a_kind_does_not_have_are_refused():
    with pytest.raises(ValueError, match="bpta_alpha is for the LIF family"):
        layers.NeuronConfig(kind="leaky", bpta_alpha=0.2)
    with pytest.raises(ValueError, match="decay_input is not an option of 'cuba_lif'"):
        layers.NeuronConfig(kind="cuba_lif", decay_input=True)
    with pytest.raises(ValueError, match="impl='pallas' supports"):
        layers.NeuronConfig(kind="leaky", impl="pallas")
    with pytest.raises(ValueError, match="fires on u >= v_th only"):
        layers.NeuronConfig(kind="lif", impl="pallas", strict_threshold=True)
    with pytest.raises(ValueError, match="has no parameter"):
        layers.NeuronConfig(surrogate="straight_through", surrogate_param=1.0)


# ----------------------------------------------------------------------------- the peers themselves


def _torch():
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float32)
    return torch


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_leaky_and_synaptic_equal_snntorch(reset):
    torch = _torch()
    snn = pytest.importorskip("snntorch")
    x = _x((20, 3, 7), seed=7)
    mechanism = "subtract" if reset == "soft" else "zero"
    cell = snn.Leaky(beta=0.8, threshold=1.0, reset_mechanism=mechanism)  # default spike_grad: ATan(2)
    xt = torch.tensor(x, requires_grad=True)
    mem = cell.init_leaky()
    spikes = []
    for t in range(x.shape[0]):
        spk, mem = cell(xt[t], mem)
        spikes.append(spk)
    spikes = torch.stack(spikes)
    w = _x((20, 3, 7), seed=8)
    (spikes * torch.tensor(w)).sum().backward()
    f = lambda x: neurons.leaky(x, decay=0.8, v_th=1.0, spike_fn=surrogate.strict(surrogate.atan(2.0)),
                                reset=reset, detach_reset=True)
    s, state = f(jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(s), spikes.detach().numpy())
    np.testing.assert_allclose(np.asarray(state.mem), mem.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = jax.grad(lambda x: jnp.sum(f(x)[0] * jnp.asarray(w)))(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(g), xt.grad.numpy(), rtol=1e-4, atol=1e-5)

    if reset == "hard":
        return  # snnTorch's Synaptic "zero" also zeroes the next step's input (see cuba_lif's docstring)
    cell = snn.Synaptic(alpha=0.6, beta=0.8, threshold=1.0, reset_mechanism=mechanism)
    syn, mem = cell.init_synaptic()
    spikes = []
    for t in range(x.shape[0]):
        spk, syn, mem = cell(torch.tensor(0.5 * x[t]), syn, mem)
        spikes.append(spk)
    s, state = neurons.cuba_lif(jnp.asarray(0.5 * x), decay=0.8, syn_decay=0.6, v_th=1.0,
                                spike_fn=surrogate.strict(surrogate.atan(2.0)), reset=reset, detach_reset=True)
    np.testing.assert_array_equal(np.asarray(s), torch.stack(spikes).numpy())
    np.testing.assert_allclose(np.asarray(state.mem), mem.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(state.syn), syn.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_if_and_plif_equal_spikingjelly():
    torch = _torch()
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import functional, neuron, surrogate as sj_surrogate

    x = _x((16, 3, 7), seed=9) * 1.5
    cases = [
        (neuron.IFNode(v_threshold=1.0, surrogate_function=sj_surrogate.Sigmoid(alpha=4.0), step_mode="m"),
         lambda x: neurons.if_neuron(x, v_th=1.0, spike_fn=surrogate.sigmoid(4.0))),
        (neuron.ParametricLIFNode(init_tau=2.0, surrogate_function=sj_surrogate.ATan(alpha=2.0), step_mode="m"),
         lambda x: neurons.plif(x, jnp.float32(neurons.plif_w_init(2.0)), spike_fn=surrogate.atan(2.0))),
        (neuron.ParametricLIFNode(init_tau=3.0, decay_input=False, v_reset=None, step_mode="m"),
         lambda x: neurons.plif(x, jnp.float32(neurons.plif_w_init(3.0)), decay_input=False, reset="soft",
                                spike_fn=surrogate.sigmoid(4.0))),
    ]
    w = _x((16, 3, 7), seed=10)
    for node, ours in cases:
        functional.reset_net(node)
        xt = torch.tensor(x, requires_grad=True)
        s_t = node(xt)
        (s_t * torch.tensor(w)).sum().backward()
        s, _ = ours(jnp.asarray(x))
        np.testing.assert_array_equal(np.asarray(s), s_t.detach().numpy())
        g = jax.grad(lambda x: jnp.sum(ours(x)[0] * jnp.asarray(w)))(jnp.asarray(x))
        np.testing.assert_allclose(np.asarray(g), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
