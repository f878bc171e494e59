"""The stateful-layer contract: ``layer(x, state) -> (out, state)`` for neuron layers, the recurrent
layer and the sequence nets; chunked calls equal one call; the per-step whole-net scan equals the
per-layer scans."""

import chex
import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import layers, neurons
from snnjax.core import encoders
from snnjax.layers.recurrent import RecurrentSpikingLayer
from snnjax.models import SequenceSNN

import jitted


def _images(b=3, side=6, seed=1):
    return jax.random.uniform(jax.random.PRNGKey(seed), (b, side, side, 1))


NETS = {
    "ce_lif": dict(hidden=(8, 6)),
    "ce_lif-recurrent": dict(hidden=(8, 6), recurrent_layers=(1,)),
    "lif-recurrent-both": dict(hidden=(5, 4), recurrent_layers=(0, 1),
                               neuron=layers.NeuronConfig(kind="lif", decay=0.6, v_th=0.2)),
    "llc_lif-learned-threshold": dict(hidden=(7,), neuron=layers.NeuronConfig(
        kind="llc_lif", v_th=0.2, learn_threshold=True, per_channel=True)),
    "cuba_lif": dict(hidden=(6, 6), neuron=layers.NeuronConfig(kind="cuba_lif", decay=0.8, v_th=0.2, reset="soft")),
    "ce_lif-li-readout": dict(hidden=(8, 6), readout_decay=0.8),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NETS))
def test_chunked_inference_equals_one_call(name):
    model = SequenceSNN(num_outputs=4, **NETS[name])
    x = _images()
    variables = jitted.init(model, jax.random.PRNGKey(0), x, train=False)
    whole, final = jitted.apply(model, variables, x, train=False, return_state=True)
    h = encoders.encode("pixel", x, 1)  # [36, B, 1]
    outs, state = [], None
    for start, stop in [(0, 5), (5, 20), (20, 36)]:
        out, state = jitted.apply(model, variables, h[start:stop], train=False, encoded=True, state=state, return_state=True)
        outs.append(out.out)
    np.testing.assert_array_equal(np.concatenate(outs), np.asarray(whole.out))
    assert int(state.t) == 36
    chex.assert_trees_all_close(state, final)
    assert float(jnp.abs(whole.out).sum()) > 0  # the readout is not trivially zero


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NETS))
def test_per_step_whole_net_scan_equals_per_layer_scans(name):
    model = SequenceSNN(num_outputs=4, scan="layer", **NETS[name])
    x = _images(seed=2)
    variables = jitted.init(model, jax.random.PRNGKey(0), x, train=False)
    sown = ["spikes", "spike_counts", "synops"]
    ref, ref_cols = jitted.apply(model, variables, x, train=False, mutable=sown, return_state=True)
    step_model = model.clone(scan="step")
    got, cols = jitted.apply(step_model, variables, x, train=False, mutable=sown, return_state=True)
    np.testing.assert_allclose(np.asarray(got[0].out), np.asarray(ref[0].out), rtol=1e-6, atol=1e-6)
    chex.assert_trees_all_close(got[1], ref[1], rtol=1e-6, atol=1e-6)
    # same rates, counts and energy-estimate costs, under the same names
    assert "synops" in cols and jax.tree.structure(cols) == jax.tree.structure(ref_cols)
    chex.assert_trees_all_close(cols, ref_cols, rtol=1e-6, atol=1e-6)
    # and its gradient is the per-layer path's
    loss = lambda m: lambda p: jnp.sum(m.apply({"params": p}, x, train=False).out ** 2)
    chex.assert_trees_all_close(jax.jit(jax.grad(loss(step_model)))(variables["params"]),
                                jax.jit(jax.grad(loss(model)))(variables["params"]), rtol=1e-4, atol=1e-6)


def _count(jaxpr, primitive: str) -> int:
    """Calls of ``primitive`` in ``jaxpr`` and its sub-jaxprs, not counting those inside a match."""
    n = 0
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == primitive:
            n += 1
            continue
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            n += _count(sub, primitive)
    return n


def _scans(fn, *args, primitive="scan") -> int:
    return _count(jax.make_jaxpr(fn)(*args).jaxpr, primitive)


@pytest.mark.slow
def test_auto_scan_is_one_whole_net_scan_for_eval_on_cpu_and_per_layer_scans_in_training():
    assert jax.default_backend() == "cpu"
    model = SequenceSNN(num_outputs=4, hidden=(8, 6, 5))  # scan="auto", the default
    assert model.scan == "auto"
    x = _images()
    variables = model.init(jax.random.PRNGKey(0), x, train=False)
    assert _scans(lambda v: model.apply(v, x, train=False).out, variables) == 1
    assert _scans(lambda v: model.apply(v, x, train=True).out, variables) == 3
    layer = model.clone(scan="layer")
    assert _scans(lambda v: layer.apply(v, x, train=False).out, variables) == 3
    np.testing.assert_allclose(np.asarray(model.apply(variables, x, train=False).out),
                               np.asarray(layer.apply(variables, x, train=False).out), rtol=1e-6, atol=1e-6)
    # the monitor records the per-layer SpikingNeuron calls, and the fused kernels run whole sequences
    monitored = lambda v: model.apply(v, x, train=False, mutable=["membranes"])[0].out  # noqa: E731
    assert _scans(monitored, variables) >= 3
    pallas = model.clone(neuron=layers.NeuronConfig(kind="ce_lif", decay=0.5, v_th=0.3, impl="pallas"))
    assert _scans(lambda v: pallas.apply(v, x, train=False).out, variables, primitive="pallas_call") == 3


def test_unknown_scan_is_refused():
    with pytest.raises(ValueError, match="scan must be one of"):
        SequenceSNN(hidden=(4,), num_outputs=2, scan="time").init(jax.random.PRNGKey(0), _images(), train=False)


def test_spiking_neuron_layer_contract_equals_the_pure_function():
    cfg = layers.NeuronConfig(kind="alif", decay=0.7, rho=0.9, beta=0.5, v_th=0.6)
    layer = layers.SpikingNeuron(cfg)
    x = jnp.asarray(np.random.default_rng(0).normal(0.5, 0.7, (9, 2, 3)), jnp.float32)
    variables = layer.init(jax.random.PRNGKey(0), x)
    s1, st = layer.apply(variables, x[:4], return_state=True)
    s2, st = layer.apply(variables, x[4:], st, return_state=True)
    s_ref, st_ref = neurons.alif(x, decay=0.7, rho=0.9, beta=0.5, v_th=0.6)
    np.testing.assert_array_equal(np.concatenate([s1, s2]), np.asarray(s_ref))
    chex.assert_trees_all_close(st, st_ref)
    assert isinstance(st, neurons.ALIFState)
    np.testing.assert_array_equal(np.asarray(layer.apply(variables, x)), np.asarray(s_ref))  # default: spikes only


def test_recurrent_layer_carries_its_last_spikes():
    layer = RecurrentSpikingLayer(5, layers.NeuronConfig(kind="lif", decay=0.6, v_th=0.3))
    x = jnp.asarray(np.random.default_rng(1).random((12, 2, 3)) < 0.4, jnp.float32)
    variables = layer.init(jax.random.PRNGKey(0), x)
    whole, st_whole = layer.apply(variables, x, return_state=True)
    s1, st = layer.apply(variables, x[:7], return_state=True)
    s2, st = layer.apply(variables, x[7:], st, return_state=True)
    np.testing.assert_array_equal(np.concatenate([s1, s2]), np.asarray(whole))
    np.testing.assert_array_equal(np.asarray(st.spikes), np.asarray(whole[-1]))
    chex.assert_trees_all_close(st, st_whole)


def test_leaky_integrator_matches_spyx_and_spikingjelly_updates():
    x = np.random.default_rng(2).normal(0, 1, (9, 2, 3)).astype(np.float32)
    v, out = np.zeros((2, 3)), []
    for t in range(9):  # Spyx LI: V = β V + x
        v = 0.7 * v + x[t]
        out.append(v)
    v_seq, state = neurons.li(jnp.asarray(x), decay=0.7)
    np.testing.assert_allclose(np.asarray(v_seq), np.stack(out), rtol=1e-5, atol=1e-6)
    v, out = np.zeros((2, 3)), []
    for t in range(9):  # SpikingJelly NonSpikingLIFNode(tau=4): v = v + (x - v)/τ
        v = v + (x[t] - v) / 4.0
        out.append(v)
    v_seq, _ = neurons.li(jnp.asarray(x), decay=0.75, decay_input=True)
    np.testing.assert_allclose(np.asarray(v_seq), np.stack(out), rtol=1e-5, atol=1e-6)


def test_leaky_integrator_readout_filters_the_linear_readout():
    x = _images(seed=4)
    linear = SequenceSNN(hidden=(6,), num_outputs=3)
    variables = linear.init(jax.random.PRNGKey(0), x, train=False)
    lin = np.asarray(linear.apply(variables, x, train=False).out)
    li = np.asarray(linear.clone(readout_decay=0.5).apply(variables, x, train=False).out)
    expected, v = [], np.zeros_like(lin[0])
    for t in range(lin.shape[0]):
        v = 0.5 * v + lin[t]
        expected.append(v)
    np.testing.assert_allclose(li, np.stack(expected), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- conv nets: neuron_state


def _conv_net(encoder="direct", **switches):
    from snnjax import models

    cfg = models.default_model_config()
    cfg.spec = "4c3-mp2-dp-4c3-ap2-24-10"
    cfg.time_steps = 8
    cfg.encoder = encoder
    cfg.neuron.kind = "llc_lif"
    cfg.neuron.v_th = 0.3
    cfg.norm = "llc_bn"
    for k, v in switches.items():
        cfg[k] = v
    return models.build_model(cfg, 10)


CONV_NETS = {
    "direct-llc_bn": ("direct", {}),
    "direct-per-conv-heads": ("direct", dict(local_heads="per_conv")),
    "double-trunk-call": ("direct", dict(local_heads="code", trunk_calls=2, norm="bn")),
    "events": ("sequence", dict(norm="none")),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CONV_NETS))
def test_conv_net_chunked_inference_with_neuron_state_equals_one_call(name):
    encoder, switches = CONV_NETS[name]
    model = _conv_net(encoder, **switches)
    x = _images(2, 8) if encoder == "direct" else jax.random.bernoulli(jax.random.PRNGKey(3), 0.3, (2, 8, 8, 8, 1)).astype(jnp.float32)
    variables = jitted.init(model, jax.random.PRNGKey(0), x, train=False)
    assert "neuron_state" not in variables  # init does not create it
    whole = jitted.apply(model, variables, x, train=False)
    outs, locals_, state = [], [], {}
    for start, stop in [(0, 3), (3, 4), (4, 8)]:
        kwargs = dict(time_steps=stop - start) if encoder == "direct" else {}
        chunk = x if encoder == "direct" else x[:, start:stop]
        out, state = jitted.apply(model, {**variables, **state}, chunk, train=False, mutable=["neuron_state"], **kwargs)
        outs.append(out.out)
        locals_.append(out.local_outs)
    np.testing.assert_allclose(np.concatenate(outs), np.asarray(whole.out), rtol=1e-6, atol=1e-6)
    for i, local in enumerate(whole.local_outs):
        np.testing.assert_allclose(np.concatenate([l[i] for l in locals_]), np.asarray(local), rtol=1e-6, atol=1e-6)
    assert float(jnp.abs(whole.out).sum()) > 0
    # a chunk started from rest differs from the continued one: the state is really carried
    fresh = jitted.apply(model, variables, x if encoder == "direct" else x[:, 4:8], train=False,
                        **(dict(time_steps=4) if encoder == "direct" else {}))
    assert not np.allclose(np.asarray(fresh.out), np.asarray(whole.out[4:]))


def test_conv_net_state_given_but_not_mutable_is_read_only():
    model = _conv_net()
    x = _images(2, 8)
    variables = jitted.init(model, jax.random.PRNGKey(0), x, train=False)
    _, state = jitted.apply(model, variables, x, train=False, time_steps=3, mutable=["neuron_state"])
    continued = jitted.apply(model, {**variables, **state}, x, train=False, time_steps=5)
    whole = jitted.apply(model, variables, x, train=False)
    np.testing.assert_allclose(np.asarray(continued.out), np.asarray(whole.out[3:]), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("switches", [dict(ossa=True), dict(ossa=True, ossa_onset="separate", local_heads="code",
                                                           first_neuron="split", llc_bn_leak="own")])
def test_conv_net_with_an_onset_block_refuses_a_carried_state(switches):
    model = _conv_net(**switches)
    x = _images(2, 8)
    variables = jitted.init(model, jax.random.PRNGKey(0), x, train=False)
    with pytest.raises(ValueError, match="carried neuron_state needs a net without an onset block"):
        jitted.apply(model, variables, x, train=False, mutable=["neuron_state"])
