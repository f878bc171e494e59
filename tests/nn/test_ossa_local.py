"""OSSA (llc-lif §3.2) and local error signals (§3.4)."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import layers, losses, models

import jitted


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def test_ossa_text_form_by_hand(key):
    x = jax.random.bernoulli(key, 0.5, (2, 3, 3, 4)).astype(jnp.float32)  # spikes at t = 0
    ossa = layers.OSSA(layers.NeuronConfig(kind="llc_lif", v_th=0.2), form="text")
    v = ossa.init(key, x, train=False)
    out = ossa.apply(v, x, train=False)
    p = jax.tree.map(np.asarray, v["params"])
    xs = np.asarray(x).reshape(2, 9, 4)
    # LLC-LIF from rest, one step: spike where the 1×1-conv current reaches v_th.
    spikes = {n: (xs @ p[f"{n}_conv"]["kernel"] + p[f"{n}_conv"]["bias"] >= 0.2).astype(np.float64) for n in "fgh"}
    attention = _softmax(spikes["f"] @ np.swapaxes(spikes["g"], 1, 2))
    expected = (attention @ spikes["h"]).reshape(2, 3, 3, 4)
    assert 0 < spikes["f"].mean() < 1
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_ossa_code_form_starts_as_identity_and_reduces_channels(key):
    x = jax.random.bernoulli(key, 0.5, (2, 4, 4, 16)).astype(jnp.float32)
    ossa = layers.OSSA(layers.NeuronConfig(kind="llc_lif", decay_input=True, v_th=0.05), form="code", attn_dropout=0.1)
    v = ossa.init(key, x, train=False)
    chex.assert_shape(v["params"]["f_conv"]["kernel"], (16, 2))  # C/8
    chex.assert_shape(v["params"]["h_conv"]["kernel"], (16, 16))
    chex.assert_trees_all_equal(ossa.apply(v, x, train=False), x)  # γ = 0
    params = {**v["params"], "gamma": jnp.float32(0.5)}
    moved = ossa.apply({"params": params}, x, train=False)
    assert not np.allclose(np.asarray(moved), np.asarray(x))


def _conv_cfg(**overrides):
    cfg = models.default_model_config()
    cfg.spec = "6c3-p2-6c3-p2-30-10"
    cfg.time_steps = 3
    cfg.neuron.v_th = 0.3
    for k, v in overrides.items():
        cfg[k] = v
    return cfg


X = jax.random.uniform(jax.random.PRNGKey(5), (4, 8, 8, 1))
RNGS = {"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}


@functools.cache
def _capture(names):
    return lambda m, _: m.name in names


def _captured(model, v, names):
    _, inter = jitted.apply(model, v, X, train=False, capture_intermediates=_capture(names), mutable=["intermediates"])
    return inter["intermediates"]


@pytest.mark.slow
def test_ossa_in_the_network_changes_only_step_zero_of_its_block():
    """The current into the next conv block (a stateless conv of the pooled spikes) differs at t = 0
    between the nets with and without OSSA, and is identical at every step t = 1..T-1."""
    with_ossa = models.build_model(_conv_cfg(ossa=True, local_heads="none"), 10)
    v = jitted.init(with_ossa, RNGS, X, train=False)
    assert "ossa" in v["params"]
    without = models.build_model(_conv_cfg(ossa=False, local_heads="none"), 10)
    v_without = {**v, "params": {k: p for k, p in v["params"].items() if k != "ossa"}}
    a = _captured(with_ossa, v, ("conv",))["conv1"]["conv"]["__call__"][0]  # [T, B, H, W, C]
    b = _captured(without, v_without, ("conv",))["conv1"]["conv"]["__call__"][0]
    assert a.shape[0] == 3
    assert not np.allclose(np.asarray(a[0]), np.asarray(b[0]))
    np.testing.assert_array_equal(np.asarray(a[1:]), np.asarray(b[1:]))


@pytest.mark.slow
def test_separate_onset_block_uses_the_onset_weights_at_step_zero_only():
    cfg = _conv_cfg(ossa=True, ossa_form="code", ossa_onset="separate", local_heads="code")
    model = models.build_model(cfg, 10)
    v = jitted.init(model, RNGS, X, train=False)
    assert {"onset_ossa", "onset_conv1", "conv1", "conv0", "fc0"} <= set(v["params"])
    out = jitted.apply(model, v, X, train=False)
    chex.assert_shape(out.out, (3, 4, 10))
    assert len(out.local_outs) == 2
    # fc0's current (a stateless matmul of the trunk's spikes) at each step, before and after
    # changing one block's conv weights
    def fc0_current(params):
        return np.asarray(_captured(model, {**v, "params": params}, ("fc0",))["fc0"]["__call__"][0])

    base = fc0_current(v["params"])
    assert np.abs(base).sum() > 0
    for block, changed_steps in (("onset_conv1", [0]), ("conv1", [1, 2])):
        params = jax.tree.map(lambda p: p, v["params"])
        params[block] = {**params[block], "conv": {"kernel": -params[block]["conv"]["kernel"]}}
        moved = fc0_current(params)
        differs = [t for t in range(3) if not np.allclose(moved[t], base[t])]
        assert differs == changed_steps, (block, differs)


@pytest.mark.slow
def test_ossa_over_successive_calls_carries_its_neurons(key):
    """``[S, B, H, W, C]``: S calls at t = 0 (the released double call); the f, g, h neurons advance
    over the calls, so the second call of the same input differs from the first; a single call
    ``[B, H, W, C]`` equals the first call."""
    x = jax.random.bernoulli(key, 0.5, (2, 3, 3, 8)).astype(jnp.float32)
    ossa = layers.OSSA(layers.NeuronConfig(kind="llc_lif", v_th=0.3), form="text")
    v = ossa.init(key, x, train=False)
    single = ossa.apply(v, x, train=False)
    twice = ossa.apply(v, jnp.stack([x, x]), train=False)
    chex.assert_shape(twice, (2, 2, 3, 3, 8))
    np.testing.assert_allclose(np.asarray(twice[0]), np.asarray(single), rtol=1e-6)
    assert not np.allclose(np.asarray(twice[1]), np.asarray(twice[0]))


@pytest.mark.slow
@pytest.mark.parametrize("heads,count", [("none", 0), ("per_conv", 2), ("code", 2)])
def test_local_heads_count(heads, count):
    model = models.build_model(_conv_cfg(local_heads=heads), 10)
    v = jitted.init(model, RNGS, X, train=False)
    out = jitted.apply(model, v, X, train=False)
    assert len(out.local_outs) == count
    for local in out.local_outs:
        chex.assert_shape(local, (3, 4, 10))


def _grads(model, v, loss_fn):
    def f(params):
        out, _ = model.apply({**v, "params": params}, X, train=True, rngs={"dropout": jax.random.PRNGKey(3)}, mutable=["batch_stats", "spikes", "synops"])
        return loss_fn(out)

    return jax.jit(jax.grad(f))(v["params"])


def _norm(tree):
    return float(sum(jnp.abs(g).sum() for g in jax.tree.leaves(tree)))


def _soft_surrogate_cfg(**kw):
    cfg = _conv_cfg(**kw)
    cfg.neuron.surrogate = "atan"  # wide support: gradients reach every layer
    cfg.neuron.v_th = 0.2
    return cfg


@pytest.mark.slow
def test_without_detach_the_global_loss_reaches_the_first_block():
    cfg = _soft_surrogate_cfg(local_heads="per_conv", local_detach=False)
    model = models.build_model(cfg, 10)
    v = model.init(RNGS, X, train=False)
    y = jnp.array([1, 2, 3, 4])
    g = _grads(model, v, lambda o: losses.mse_rate(o.out, y))
    assert _norm(g["conv0"]) > 0 and _norm(g["conv1"]) > 0


@pytest.mark.slow
def test_with_detach_no_gradient_crosses_a_block():
    cfg = _soft_surrogate_cfg(local_heads="per_conv", local_detach=True)
    model = models.build_model(cfg, 10)
    v = model.init(RNGS, X, train=False)
    y = jnp.array([1, 2, 3, 4])
    g_global = _grads(model, v, lambda o: losses.mse_rate(o.out, y))
    assert _norm(g_global["conv0"]) == 0 and _norm(g_global["conv1"]) == 0
    assert _norm(g_global["fc0"]) > 0
    g_local0 = _grads(model, v, lambda o: losses.mse_rate(o.local_outs[0], y))
    assert _norm(g_local0["conv0"]) > 0 and _norm(g_local0["local0"]) > 0
    assert _norm(g_local0["conv1"]) == 0 and _norm(g_local0["fc0"]) == 0
    g_local1 = _grads(model, v, lambda o: losses.mse_rate(o.local_outs[1], y))
    assert _norm(g_local1["conv1"]) > 0
    assert _norm(g_local1["conv0"]) == 0  # stopped at the boundary after block 0


def test_per_conv_heads_with_a_separate_onset_block_are_rejected_when_built():
    with pytest.raises(ValueError, match="local_heads='per_conv' is not defined with model.ossa_onset='separate'"):
        models.build_model(_conv_cfg(ossa=True, ossa_onset="separate", local_heads="per_conv"), 10)
