"""LLC-BN (llc-lif paper §3.3): statistics, running averages, folding into weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import layers, models

import jitted


@pytest.mark.slow
def test_train_mode_normalises_to_std_alpha_times_leak(key):
    x = 3.0 + 2.0 * jax.random.normal(key, (4, 8, 5, 5, 6))  # [T, B, H, W, C]
    bn = layers.LLCBatchNorm(alpha=3.2)
    v = bn.init(key, x, train=True, leak=jnp.float32(0.25))
    y = bn.apply(v, x, train=True, leak=jnp.float32(0.25), mutable=["batch_stats"])[0]
    y = np.asarray(y).reshape(-1, 6)  # statistics per channel over (T, N, H, W)
    np.testing.assert_allclose(y.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(0), 3.2 * 0.25, rtol=1e-3)


def test_own_leak_parameter_is_the_released_code_form(key):
    x = jax.random.normal(key, (16, 3))
    bn = layers.LLCBatchNorm(alpha=3.2, own_leak=True)
    v = bn.init(key, x, train=True)
    assert float(v["params"]["w"]) == 0.0  # sigmoid(0) = 0.5
    y = bn.apply(v, x, train=True, mutable=["batch_stats"])[0]
    np.testing.assert_allclose(np.asarray(y).std(0), 3.2 * 0.5, rtol=1e-3)


def test_running_statistics_follow_pytorch(key):
    x = 1.0 + jax.random.normal(key, (10, 4))
    bn = layers.LLCBatchNorm(alpha=1.0, own_leak=False)
    v = bn.init(key, x, train=True)
    _, state = bn.apply(v, x, train=True, mutable=["batch_stats"])
    xs = np.asarray(x)
    np.testing.assert_allclose(np.asarray(state["batch_stats"]["mean"]), 0.1 * xs.mean(0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(state["batch_stats"]["var"]), 0.9 + 0.1 * xs.var(0, ddof=1), rtol=1e-5)
    # eval mode uses the running statistics, not the batch's
    y = bn.apply({**v, **state}, x, train=False)
    expected = (xs - 0.1 * xs.mean(0)) / np.sqrt(0.9 + 0.1 * xs.var(0, ddof=1) + 1e-5)
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_fold_into_weights_equals_conv_then_norm(key):
    k1, k2, k3 = jax.random.split(key, 3)
    x = jax.random.normal(k1, (2, 6, 6, 3))
    kernel = jax.random.normal(k2, (3, 3, 3, 4))
    mean, var = jax.random.normal(k3, (4,)), jnp.array([0.5, 1.0, 2.0, 3.0])
    scale, shift, leak = jnp.array([1.0, 0.5, 2.0, -1.0]), jnp.array([0.1, 0.2, 0.3, 0.4]), jnp.float32(0.3)
    conv = lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    unfolded = layers.llc_batch_norm(conv(x, kernel), mean, var, leak=leak, scale=scale, bias=shift, alpha=3.2)
    w2, b2 = layers.fold_into_weights(kernel, None, mean=mean, var=var, leak=leak, scale=scale, shift=shift, alpha=3.2)
    np.testing.assert_allclose(np.asarray(conv(x, w2) + b2[None, None, None]), np.asarray(unfolded), rtol=1e-5, atol=1e-5)
    # the paper's formulas, written out: W' = λαk W / sqrt(σ² + ε), B' = λαk (0 − μ)/sqrt(σ² + ε) + β
    f = np.asarray(scale) * 3.2 * 0.3 / np.sqrt(np.asarray(var) + 1e-5)
    np.testing.assert_allclose(np.asarray(w2), np.asarray(kernel) * f, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(b2), -np.asarray(mean) * f + np.asarray(shift), rtol=1e-6)


def _trained_variables(model, x, steps=3):
    """Runs a few train-mode passes so running statistics move away from their initial values."""
    variables = jitted.init(model, {"params": jax.random.PRNGKey(1), "dropout": jax.random.PRNGKey(2)}, x, train=False)
    params = jax.tree.map(lambda p: p + 0.05 * jax.random.normal(jax.random.PRNGKey(3), p.shape, p.dtype), variables["params"])
    variables = {"params": params, "batch_stats": variables["batch_stats"]}
    for i in range(steps):
        _, state = jitted.apply(model, variables, x * (1 + 0.1 * i), train=True, rngs={"dropout": jax.random.PRNGKey(i)}, mutable=["batch_stats", "spikes", "synops"])
        variables = {"params": params, "batch_stats": state["batch_stats"]}
    return variables


@pytest.mark.slow
@pytest.mark.parametrize("norm,leak", [("llc_bn", "shared"), ("llc_bn", "own"), ("bn", "shared")])
def test_folded_network_equals_unfolded_in_eval(norm, leak):
    cfg = models.default_model_config()
    cfg.spec = "8c3-p2-8c3-p2-40-10"
    cfg.time_steps = 4
    cfg.norm = norm
    cfg.llc_bn_leak = leak
    cfg.neuron.kind = "llc_lif"
    cfg.neuron.v_th = 0.5
    with jax.enable_x64(True):
        x = jax.random.uniform(jax.random.PRNGKey(0), (6, 12, 12, 1), jnp.float64)
        model = models.build_model(cfg, 10)
        variables = jax.tree.map(lambda a: a.astype(jnp.float64), _trained_variables(model, x.astype(jnp.float32)))
        out = jitted.apply(model, variables, x, train=False)
        folded_cfg, folded = models.fold_norms(cfg, variables)
        assert folded_cfg.norm == "none"
        assert "norm" not in folded["params"]["conv1"]
        folded_model = models.build_model(folded_cfg, 10)
        out_folded = jitted.apply(folded_model, folded, x, train=False)
        assert 0 < float(out.out.mean()) < 1  # spikes happen: the comparison is not vacuous
        np.testing.assert_allclose(np.asarray(out_folded.out), np.asarray(out.out), atol=1e-5)
        # the membrane currents agree too: compare the first block's pre-activation
        convs = lambda m, _: m.name == "conv"  # noqa: E731
        pre = jitted.apply(model, variables, x, train=False, capture_intermediates=convs, mutable=["intermediates"])[1]
        pre_f = jitted.apply(folded_model, folded, x, train=False, capture_intermediates=convs, mutable=["intermediates"])[1]
        raw = pre["intermediates"]["conv1"]["conv"]["__call__"][0]
        norm_params = variables["params"]["conv1"]["norm"]
        stats = variables["batch_stats"]["conv1"]["norm"]
        leak_value = {"shared": jax.nn.sigmoid(variables["params"]["conv1"]["a"]), "own": jax.nn.sigmoid(norm_params.get("w", 0.0))}[leak] if norm == "llc_bn" else 1.0
        alpha = 3.2 if norm == "llc_bn" else 1.0
        expected = layers.llc_batch_norm(raw, stats["mean"], stats["var"], leak=leak_value, scale=norm_params["scale"], bias=norm_params["bias"], alpha=alpha)
        np.testing.assert_allclose(np.asarray(pre_f["intermediates"]["conv1"]["conv"]["__call__"][0]), np.asarray(expected), rtol=1e-9, atol=1e-9)


@pytest.mark.slow
def test_per_step_statistics_normalise_each_step_to_zero_mean(key):
    """Released code: in training each time step is normalised with its own batch statistics."""
    steps = 4
    shift = jnp.arange(steps, dtype=jnp.float32).reshape(steps, 1, 1, 1, 1)  # a different mean per step
    x = 2.0 * shift + jax.random.normal(key, (steps, 8, 5, 5, 3))
    per_step = layers.LLCBatchNorm(alpha=1.0, own_leak=False, per_step=True)
    v = per_step.init(key, x, train=True)
    y = np.asarray(per_step.apply(v, x, train=True, mutable=["batch_stats"])[0])
    np.testing.assert_allclose(y.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)  # every step, every channel
    np.testing.assert_allclose(y.std(axis=(1, 2, 3)), 1.0, rtol=1e-3)
    pooled = layers.LLCBatchNorm(alpha=1.0, own_leak=False)  # the text: statistics over T as well
    y_pooled = np.asarray(pooled.apply(v, x, train=True, mutable=["batch_stats"])[0])
    assert np.abs(y_pooled.mean(axis=(1, 2, 3))).max() > 0.5
    # eval is the same affine map either way
    np.testing.assert_allclose(np.asarray(per_step.apply(v, x, train=False)), np.asarray(pooled.apply(v, x, train=False)))


@pytest.mark.slow
def test_per_step_running_statistics_update_once_per_step_in_order(key):
    steps, m = 3, 0.9
    x = 1.0 + jnp.arange(steps, dtype=jnp.float32)[:, None, None] + jax.random.normal(key, (steps, 10, 4))
    bn = layers.LLCBatchNorm(alpha=1.0, own_leak=False, per_step=True, momentum=m)
    v = bn.init(key, x, train=True)
    _, state = bn.apply(v, x, train=True, mutable=["batch_stats"])
    mean, var = np.zeros(4), np.ones(4)
    for t in range(steps):  # PyTorch's BatchNorm called once per step
        xt = np.asarray(x[t], np.float64)
        mean = m * mean + (1 - m) * xt.mean(0)
        var = m * var + (1 - m) * xt.var(0, ddof=1)
    np.testing.assert_allclose(np.asarray(state["batch_stats"]["mean"]), mean, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(state["batch_stats"]["var"]), var, rtol=1e-5)
    # repeats=n: each call's statistics counted n times (a static layer standing for n calls)
    once = np.asarray(x[0], np.float64)
    bn5 = layers.LLCBatchNorm(alpha=1.0, own_leak=False, repeats=5, momentum=m)
    _, state5 = bn5.apply(bn5.init(key, x[0], train=True), x[0], train=True, mutable=["batch_stats"])
    np.testing.assert_allclose(np.asarray(state5["batch_stats"]["mean"]), (1 - m**5) * once.mean(0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(state5["batch_stats"]["var"]), m**5 + (1 - m**5) * once.var(0, ddof=1), rtol=1e-5)


@pytest.mark.slow
def test_static_first_conv_updates_running_statistics_per_step_under_the_bpsa_switch():
    """``static_norm_updates="per_step"``: the static first conv's BN counts its statistics once per
    step, as the BP-STA code that recomputes that conv at every step; ``"once"`` as the llc-lif code."""
    cfg = models.default_model_config()
    cfg.spec, cfg.time_steps, cfg.norm_stats = "4c3-24-10", 3, "per_step"
    x = jax.random.uniform(jax.random.PRNGKey(0), (4, 6, 6, 1))
    stats = {}
    for updates in ("once", "per_step"):
        cfg.static_norm_updates = updates
        model = models.build_model(cfg, 10)
        v = model.init({"params": jax.random.PRNGKey(1)}, x, train=False)
        _, state = model.apply(v, x, train=True, mutable=["batch_stats", "spikes", "synops"])
        stats[updates] = np.asarray(state["batch_stats"]["conv0"]["norm"]["mean"])
        kernel = np.asarray(v["params"]["conv0"]["conv"]["kernel"])
    conv = jax.lax.conv_general_dilated(x, jnp.asarray(kernel), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    batch_mean = np.asarray(conv).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(stats["once"], 0.1 * batch_mean, rtol=1e-5)
    np.testing.assert_allclose(stats["per_step"], (1 - 0.9**3) * batch_mean, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["llc_lif_code", "bpsa_code"])
def test_folding_works_for_the_released_code_switches(flavour):
    cfg = models.default_model_config()
    cfg.time_steps = 4
    cfg.neuron.v_th = 0.1
    cfg.norm_stats = "per_step"
    if flavour == "llc_lif_code":
        cfg.spec = "6c3-ap2-6c3-ap2-dp-24-dp-10"
        cfg.update(norm="llc_bn", llc_bn_leak="own", ossa=True, ossa_form="code", ossa_onset="separate",
                   local_heads="code", trunk_calls=2, first_neuron="split", dense_bias=False)
        cfg.neuron.kind = "llc_lif"
    else:
        cfg.spec = "6c3-mp2-6c3-ap2-24-dp-10"
        cfg.update(norm="bn", relu_before_neuron=True, dense_relu=True, dropout_site="current", conv_bias=True,
                   static_norm_updates="per_step")
    with jax.enable_x64(True):
        x = jax.random.uniform(jax.random.PRNGKey(0), (4, 12, 12, 1), jnp.float64)
        model = models.build_model(cfg, 10)
        variables = jax.tree.map(lambda a: a.astype(jnp.float64), _trained_variables(model, x.astype(jnp.float32)))
        out = jitted.apply(model, variables, x, train=False)
        folded_cfg, folded = models.fold_norms(cfg, variables)
        out_folded = jitted.apply(models.build_model(folded_cfg, 10), folded, x, train=False)
        assert 0 < float(out.out.mean()) < 1
        np.testing.assert_allclose(np.asarray(out_folded.out), np.asarray(out.out), atol=1e-9)
        for a, b in zip(out.local_outs, out_folded.local_outs):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=1e-9)
