"""Layer-wise synapses, neuron layers, dropout, voting, encoders and the recurrent layer."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jitted
import numpy_neurons as ref
from snnjax import layers
from snnjax.core import encoders
from snnjax.layers.recurrent import RecurrentSpikingLayer


def _init_apply(module, x, **kwargs):
    variables = module.init(jax.random.PRNGKey(0), x, **kwargs)
    return variables, module.apply(variables, x, **kwargs)


def test_seq_dense_runs_once_on_merged_batch_and_equals_per_step(key):
    x = jax.random.bernoulli(key, 0.3, (5, 4, 7)).astype(jnp.float32)
    v, y = _init_apply(layers.SeqDense(3), x)
    k, b = v["params"]["kernel"], v["params"]["bias"]
    chex.assert_shape(y, (5, 4, 3))
    for t in range(5):
        np.testing.assert_allclose(np.asarray(y[t]), np.asarray(x[t] @ k + b[None]), rtol=1e-6)
    # PyTorch's default init range U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert float(jnp.abs(k).max()) <= 1 / np.sqrt(7)


def test_seq_conv_equals_per_step_conv(key):
    x = jax.random.bernoulli(key, 0.3, (3, 2, 6, 6, 2)).astype(jnp.float32)
    v, y = _init_apply(layers.SeqConv(4, 3), x)
    chex.assert_shape(y, (3, 2, 6, 6, 4))
    kernel = v["params"]["kernel"]
    for t in range(3):
        per_step = jax.lax.conv_general_dilated(x[t], kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        np.testing.assert_allclose(np.asarray(y[t]), np.asarray(per_step), rtol=1e-5, atol=1e-6)


def test_synapses_report_their_cost(key):
    x = jax.random.bernoulli(key, 0.25, (4, 3, 5, 5, 2)).astype(jnp.float32)
    module = layers.SeqConv(6, 3)
    v = module.init(key, x)
    _, state = module.apply(v, x, mutable=["synops"])
    cost = state["synops"]["cost"][0]
    assert float(cost["macs"]) == 5 * 5 * (2 * 3 * 3) * 6
    np.testing.assert_allclose(float(cost["input_rate"]), float(x.mean()), rtol=1e-6)
    assert not bool(cost["analog_input"])


def test_spiking_neuron_layer_matches_numpy_and_reports_rate():
    x = np.random.default_rng(0).normal(0.5, 0.8, (6, 3, 4))
    module = layers.SpikingNeuron(layers.NeuronConfig(kind="lif", decay=0.7, v_th=0.6, reset="soft"))
    v = module.init(jax.random.PRNGKey(0), jnp.asarray(x, jnp.float32))
    s, state = module.apply(v, jnp.asarray(x, jnp.float32), mutable=["spikes"])
    expected = ref.lif(x, 0.7, 0.6, "soft")[0]
    np.testing.assert_array_equal(np.asarray(s), expected)
    np.testing.assert_allclose(float(state["spikes"]["rate"][0]), expected.mean(), rtol=1e-6)


@pytest.mark.parametrize("per_channel,shape", [(False, ()), (True, (4,))])
def test_llc_lif_layer_learns_its_leak(per_channel, shape):
    cfg = layers.NeuronConfig(kind="llc_lif", a_init=0.3, per_channel=per_channel)
    module = layers.SpikingNeuron(cfg)
    x = jnp.asarray(np.random.default_rng(1).normal(0.6, 0.8, (6, 2, 4)), jnp.float32)
    v = module.init(jax.random.PRNGKey(0), x)
    chex.assert_shape(v["params"]["a"], shape)
    np.testing.assert_allclose(np.asarray(v["params"]["a"]), 0.3)
    grads = jax.grad(lambda p: jnp.sum(module.apply({"params": p}, x)))(v["params"])
    assert np.abs(np.asarray(grads["a"])).sum() > 0


def test_neuron_config_rejects_unknown_values():
    with pytest.raises(ValueError, match="unknown neuron kind 'izhikevich'"):
        layers.NeuronConfig(kind="izhikevich")
    with pytest.raises(ValueError, match="unknown neuron config keys \\['tau'\\]"):
        layers.NeuronConfig.from_mapping({"kind": "lif", "tau": 2.0})
    with pytest.raises(ValueError, match="unknown surrogate"):
        layers.NeuronConfig(surrogate="relu")


def test_neuron_config_unroll_auto_unrolls_short_loops_only():
    from snnjax.layers.spiking import AUTO_UNROLL_MAX_STEPS

    auto = layers.NeuronConfig()
    assert auto.unroll == "auto"
    assert auto.scan_unroll(8) == 8 and auto.scan_unroll(AUTO_UNROLL_MAX_STEPS) == AUTO_UNROLL_MAX_STEPS
    assert auto.scan_unroll(AUTO_UNROLL_MAX_STEPS + 1) == 1 and auto.scan_unroll(784) == 1
    assert layers.NeuronConfig(unroll=4).scan_unroll(8) == 4
    assert layers.NeuronConfig(unroll="4").unroll == 4  # as a command-line override arrives
    for bad in (0, -2, True, "full", 2.0):
        with pytest.raises(ValueError, match="neuron.unroll must be a positive int or 'auto'"):
            layers.NeuronConfig(unroll=bad)


@pytest.mark.parametrize("kind", ["lif", "llc_lif", "plif", "alif", "ce_lif"])
def test_unroll_auto_equals_the_rolled_loop(kind, key):
    x = 2.0 * jax.random.uniform(key, (8, 3, 5))
    te = jax.random.normal(jax.random.PRNGKey(1), (8, 5)) if kind == "ce_lif" else None
    outs = []
    for unroll in ("auto", 1):
        module = layers.SpikingNeuron(layers.NeuronConfig(kind=kind, unroll=unroll))
        kw = {} if te is None else {"te": te}
        variables = jitted.init(module, jax.random.PRNGKey(0), x, **kw)
        f = lambda v, x: jnp.sum(module.apply(v, x, **kw) * jnp.arange(5.0)[None, None])  # noqa: E731
        outs.append((jitted.apply(module, variables, x, **kw), jax.jit(jax.grad(f, argnums=(0, 1)))(variables, x)))
        jaxpr = str(jax.make_jaxpr(lambda x: module.apply(variables, x, **kw))(x))
        assert f"unroll={8 if unroll == 'auto' else 1}" in jaxpr  # the loop was (not) unrolled
    chex.assert_trees_all_close(outs[0], outs[1], rtol=1e-6, atol=1e-6)


def test_time_consistent_dropout_uses_one_mask_for_all_steps(key):
    x = jnp.ones((6, 8, 50), jnp.float32)
    drop = layers.TimeConsistentDropout(0.5)
    y = drop.apply({}, x, train=True, rngs={"dropout": key})
    kept = np.asarray(y) != 0
    assert np.all(kept == kept[0:1])  # the same units are dropped at every step
    assert 0.3 < kept[0].mean() < 0.7
    np.testing.assert_allclose(np.asarray(y)[kept], 2.0)  # kept units scaled by 1/(1 - rate)
    chex.assert_trees_all_equal(drop.apply({}, x, train=False), x)


def test_voting_averages_consecutive_groups():
    x = jnp.arange(12.0).reshape(1, 1, 12)
    np.testing.assert_allclose(np.asarray(layers.vote(x, 3))[0, 0], [1.5, 5.5, 9.5])
    with pytest.raises(ValueError, match="divisible by 5"):
        layers.vote(x, 5)


def test_encoders(key):
    x = jax.random.uniform(key, (3, 4, 4, 1))
    d = encoders.direct(x, 5)
    chex.assert_shape(d, (5, 3, 4, 4, 1))
    chex.assert_trees_all_equal(d[4], x)
    r = encoders.rate(jnp.full((2000,), 0.3), 8, key)
    assert set(np.unique(np.asarray(r))) <= {0.0, 1.0}
    assert abs(float(r.mean()) - 0.3) < 0.02
    chex.assert_trees_all_equal(encoders.rate(x, 4, key), encoders.rate(x, 4, key))  # explicit key
    assert not np.array_equal(np.asarray(encoders.rate(x, 4, key)), np.asarray(encoders.rate(x, 4, jax.random.PRNGKey(9))))
    p = encoders.pixel(x)
    chex.assert_shape(p, (16, 3, 1))
    np.testing.assert_array_equal(np.asarray(p[5, 1, 0]), np.asarray(x[1, 1, 1, 0]))  # raster order: row 1, col 1
    perm = encoders.fixed_permutation(16, seed=3)
    chex.assert_trees_all_equal(encoders.fixed_permutation(16, seed=3), perm)  # fixed
    q = encoders.permuted_pixel(x, perm)
    for t in range(16):
        np.testing.assert_array_equal(np.asarray(q[t]), np.asarray(p[perm[t]]))
    s = encoders.sequence(jnp.zeros((2, 7, 3)))
    chex.assert_shape(s, (7, 2, 3))
    with pytest.raises(ValueError, match="unknown encoder 'morse'"):
        encoders.encode("morse", x, 4)


@pytest.mark.parametrize("kind", ["lif", "llc_lif", "alif", "ce_lif"])
def test_recurrent_layer_matches_a_hand_written_loop(kind):
    cfg = layers.NeuronConfig(kind=kind, v_th=0.3 if kind == "ce_lif" else 0.15)
    x = jnp.asarray(np.random.default_rng(2).uniform(0, 1, (7, 2, 3)) > 0.5, jnp.float32)
    te = jnp.asarray(np.random.default_rng(3).normal(0.0, 0.3, (7, 4)), jnp.float32) if kind == "ce_lif" else None
    module = RecurrentSpikingLayer(4, cfg)
    v = module.init(jax.random.PRNGKey(0), x, te=te)
    s = module.apply(v, x, te=te)
    p = v["params"]
    # The same network as plain per-step Python: input + recurrent current, then the neuron's step.
    from snnjax.layers.spiking import step_function

    init, step = step_function(cfg, p.get("a"))
    state, s_prev, outs = init((2, 4), jnp.float32), jnp.zeros((2, 4)), []
    for t in range(7):
        current = x[t] @ p["input"]["kernel"] + p["input"]["bias"][None] + s_prev @ p["w_rec"] + p["b_rec"][None]
        state, s_prev = step(state, current, None if te is None else te[t])
        outs.append(s_prev)
    np.testing.assert_array_equal(np.asarray(s), np.asarray(jnp.stack(outs)))
    assert 0 < float(s.mean()) < 1


def test_pooling_by_hand():
    x = jnp.arange(16.0).reshape(1, 1, 4, 4, 1)
    np.testing.assert_array_equal(np.asarray(layers.pool(x, "max", 2))[0, 0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(np.asarray(layers.pool(x, "avg", 2))[0, 0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    chex.assert_shape(layers.pool(jnp.zeros((2, 3, 5, 5, 4)), "max", 2), (2, 3, 2, 2, 4))  # floor
    # differentiable: max routes the gradient to the arg-max, avg spreads it evenly
    g_max = jax.grad(lambda x: layers.pool(x, "max", 2).sum())(x)[0, 0, :, :, 0]
    np.testing.assert_array_equal(np.asarray(g_max), [[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 1, 0, 1]])
    g_avg = jax.jit(jax.grad(lambda x: layers.pool(x, "avg", 2).sum()))(x)
    np.testing.assert_allclose(np.asarray(g_avg), 0.25)
    with pytest.raises(ValueError, match="pool kind"):
        layers.pool(x, "median", 2)


def test_max_pool_gradient_goes_to_the_first_of_tied_spikes():
    """Equal spikes in a window: the gradient goes to the first in row-major order (as PyTorch)."""
    x = jnp.array([[0.0, 1.0], [1.0, 1.0]]).reshape(1, 1, 2, 2, 1)
    g = jax.grad(lambda x: layers.pool(x, "max", 2).sum())(x)
    np.testing.assert_array_equal(np.asarray(g)[0, 0, :, :, 0], [[0, 1], [0, 0]])
    g = jax.grad(lambda x: layers.pool(x, "max", 2).sum())(jnp.ones((1, 1, 2, 2, 1)))
    np.testing.assert_array_equal(np.asarray(g)[0, 0, :, :, 0], [[1, 0], [0, 0]])


def test_released_bpsa_spike_value_and_gradient():
    """``bpsa_code``: s = H(u − θ)·u/(sg(u) + 1e-12), ds/du = H/(u + 1e-12) (the BP-STA code)."""
    spike = layers.NeuronConfig(surrogate="bpsa_code").spike_fn()
    with jax.enable_x64(True):
        u = jnp.array([0.2, 0.5, 0.8, 2.0], jnp.float64)
        s = spike(u, 0.5)
        np.testing.assert_array_equal(np.asarray(s), [0.0, 0.5 / (0.5 + 1e-12), 0.8 / (0.8 + 1e-12), 2.0 / (2.0 + 1e-12)])
        assert 0 < 1 - float(s[1]) < 1e-11  # not exactly 1: the artifact
        g = jax.grad(lambda u: spike(u, 0.5).sum())(u)
        np.testing.assert_allclose(np.asarray(g), [0.0, 1 / (0.5 + 1e-12), 1 / (0.8 + 1e-12), 1 / (2.0 + 1e-12)], rtol=1e-15)
        # in float64 a max pool then routes the gradient to the larger membrane, not the first spike
        window = jnp.array([0.6, 0.9, 0.0, 0.7], jnp.float64)
        g_pool = jax.grad(lambda u: layers.pool(spike(u, 0.5).reshape(1, 1, 2, 2, 1), "max", 2).sum())(window)
        np.testing.assert_allclose(np.asarray(g_pool), [0.0, 1 / (0.9 + 1e-12), 0.0, 0.0], rtol=1e-15)
    # in float32 the value rounds to 1 and the plain BPSA forward is recovered
    u32 = jnp.array([0.2, 0.5, 0.8], jnp.float32)
    np.testing.assert_array_equal(np.asarray(spike(u32, 0.5)), [0.0, 1.0, 1.0])


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(2, 3, 4, 4, 5), (1, 2, 7, 5, 3)])  # the second with floor crops
def test_argmax_max_pool_equals_autodiff_of_flax_max_pool(shape):
    from snnjax.layers.pooling import max_pool_argmax

    key = jax.random.PRNGKey(0)
    spikes = jax.random.bernoulli(key, 0.4, shape).astype(jnp.float32)  # many ties
    analog = jax.random.normal(jax.random.PRNGKey(1), shape)
    g = jax.random.normal(jax.random.PRNGKey(2), (shape[0], shape[1], shape[2] // 2, shape[3] // 2, shape[4]))
    for x in (spikes, analog):
        ref_out, ref_vjp = jax.vjp(lambda x: layers.pool(x, "max", 2), x)
        out, vjp = jax.vjp(lambda x: jax.jit(max_pool_argmax, static_argnums=1)(x, 2), x)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(ref_out))
        np.testing.assert_array_equal(np.asarray(vjp(g)[0]), np.asarray(ref_vjp(g)[0]))
    chex.assert_trees_all_equal(layers.pool(spikes, "max", 2, impl="argmax"), layers.pool(spikes, "max", 2))
    with pytest.raises(ValueError, match="max pool impl"):
        layers.pool(spikes, "max", 2, impl="cuda")
