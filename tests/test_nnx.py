"""snnjax.nnx: the NNX modules compute what the Linen ones do for the same weights (float64, 1e-12),
forward and gradients, for every registered neuron kind and for the sequence nets; the converter
moves weights both ways; the explicit state runs in lax.scan, nnx.scan, nnx.jit and jax.jit."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from snnjax import layers, models
from snnjax import nnx as snnx
from snnjax.layers import NEURON_KINDS, NeuronConfig

TOL = dict(atol=1e-12, rtol=1e-12)
T, B, N = 5, 2, 3


def _perturbed(tree, key, scale=0.3):
    """Every leaf moved off its init (a constant leak or threshold would hide a wrong gradient)."""
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(key, max(len(leaves), 1))
    moved = [leaf + scale * jax.random.normal(k, leaf.shape, leaf.dtype) for leaf, k in zip(leaves, keys)]
    return jax.tree.unflatten(treedef, moved)


def _float64(tree):
    return jax.tree.map(lambda v: jnp.asarray(v, jnp.float64), tree)


def _neuron_config(kind: str) -> NeuronConfig:
    return NeuronConfig(kind=kind, per_channel=True, learn_threshold=True)


def _state_loss(s_seq, state):
    """Weighs every spike and every final state variable differently, so each gradient path counts."""
    weights = jnp.linspace(0.5, 1.5, s_seq.size, dtype=s_seq.dtype).reshape(s_seq.shape)
    return jnp.sum(s_seq * weights) + sum(jnp.sum(jnp.cos(leaf)) for leaf in jax.tree.leaves(state))


@pytest.mark.parametrize("kind", sorted(NEURON_KINDS))
def test_neuron_params_have_the_linen_names_shapes_and_initial_values(kind):
    cfg = _neuron_config(kind)
    x = jnp.ones((T, B, N))
    te = jnp.zeros((T, N)) if NEURON_KINDS.lookup(kind).needs_te else None
    linen = layers.SpikingNeuron(cfg).init(jax.random.PRNGKey(0), x, te=te)
    nnx_params = snnx.linen_variables(snnx.SpikingNeuron(N, cfg)).get("params", {})
    chex.assert_trees_all_equal(nnx_params, dict(linen.get("params", {})))


@pytest.mark.parametrize("kind", sorted(NEURON_KINDS))
def test_neuron_equals_linen_forward_state_and_gradients_float64(kind):
    cfg = _neuron_config(kind)
    needs_te = NEURON_KINDS.lookup(kind).needs_te
    with jax.enable_x64(True):
        kx, kt, kp = jax.random.split(jax.random.PRNGKey(1), 3)
        x = 1.5 * jax.random.normal(kx, (T, B, N), jnp.float64)
        te = 0.3 * jax.random.normal(kt, (T, N), jnp.float64) if needs_te else None
        linen_layer = layers.SpikingNeuron(cfg)
        params = _float64(_perturbed(dict(linen_layer.init(kp, x, te=te).get("params", {})), kp))
        layer = snnx.load_linen_variables(snnx.SpikingNeuron(N, cfg), {"params": params} if params else {})

        def linen_loss(p, x, te):
            return _state_loss(*linen_layer.apply({"params": p}, x, te=te, return_state=True))

        def nnx_loss(layer, x, te):
            return _state_loss(*layer(x, layer.initial_state((B,), jnp.float64), te=te))

        s_linen, st_linen = linen_layer.apply({"params": params}, x, te=te, return_state=True)
        s_nnx, st_nnx = layer(x, te=te)
        assert float(s_nnx.sum()) > 0  # the comparison sees spikes
        chex.assert_trees_all_close((s_nnx, st_nnx), (s_linen, st_linen), **TOL)
        argnums = (0, 1, 2) if needs_te else (0, 1)
        g_linen = jax.grad(linen_loss, argnums)(params, x, te)
        g_nnx = nnx.grad(nnx_loss, argnums=argnums)(layer, x, te)
        chex.assert_trees_all_close((snnx.linen_tree(g_nnx[0]),) + g_nnx[1:], g_linen, **TOL)


@pytest.mark.parametrize("kind", sorted(NEURON_KINDS))
def test_neuron_step_scanned_equals_the_sequence_call(kind):
    cfg = _neuron_config(kind)
    layer = snnx.SpikingNeuron(N, cfg)
    x = 1.5 * jax.random.normal(jax.random.PRNGKey(2), (T, B, N))
    te = 0.1 * jnp.ones((T, N)) if NEURON_KINDS.lookup(kind).needs_te else None
    s_call, st_call = layer(x, layer.initial_state(B), te=te)

    def body(st, xs):
        s_t, st = layer.step(xs[0], st, te_t=xs[1])
        return st, s_t

    st_scan, s_scan = jax.lax.scan(body, layer.initial_state(B), (x, te))
    chex.assert_trees_all_close((s_scan, st_scan), (s_call, st_call), atol=1e-6)


def test_neuron_continues_from_a_carried_state():
    layer = snnx.SpikingNeuron(N, NeuronConfig(kind="alif"))
    x = 1.5 * jax.random.normal(jax.random.PRNGKey(3), (8, B, N))
    s_all, st_all = layer(x)
    s1, st = layer(x[:3], layer.initial_state(B))
    s2, st = layer(x[3:], st)
    chex.assert_trees_all_close((jnp.concatenate([s1, s2]), st), (s_all, st_all), atol=1e-6)


def test_ce_lif_without_te_is_an_error():
    with pytest.raises(ValueError, match="temporal encoding"):
        snnx.SpikingNeuron(N, NeuronConfig(kind="ce_lif"))(jnp.ones((T, B, N)))


def test_a_kind_registered_by_the_user_runs_in_nnx():
    from snnjax import neurons

    kind = layers.NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.lif_step(st, x, decay=p["k"], **cfg.step_kwargs(p)),
        init_state=lambda cfg, p, shape, dtype: neurons.lif_init_state(shape, dtype),
        create_params=lambda m, cfg, c: {"k": m.param("k", lambda key, s: jnp.full(s, 0.25), (c,))},
    )
    layers.register_neuron("lif_learned_k_nnx_test", kind)
    try:
        layer = snnx.SpikingNeuron(N, NeuronConfig(kind="lif_learned_k_nnx_test"))
        np.testing.assert_array_equal(layer.k[...], jnp.full((N,), 0.25))
        s, _ = layer(jnp.full((T, B, N), 0.9))
        np.testing.assert_array_equal(s[:, 0, 0], [0, 1, 0, 1, 0])  # u = 0.9, 0.25·0.9 + 0.9 ≥ 1 fires, reset...
    finally:
        NEURON_KINDS._entries.pop("lif_learned_k_nnx_test", None)


# --- the converter ---------------------------------------------------------------------------------

SEQUENCE_CASES = {
    # CE-LIF (the paper's neurons, TE shared across layers) with a recurrent second layer
    "ce_lif_recurrent": dict(hidden=(3, 4), recurrent_layers=(1,), neuron=models.SequenceSNN.neuron),
    # LLC-LIF with learnable per-channel thresholds, a recurrent first layer, a leaky readout
    "llc_lif_leaky_readout": dict(hidden=(4, 3), recurrent_layers=(0,), readout_decay=0.8,
                                  neuron=NeuronConfig(kind="llc_lif", learn_threshold=True, per_channel=True)),
    # ALIF, feedforward only
    "alif": dict(hidden=(4,), neuron=NeuronConfig(kind="alif", decay=0.8, v_th=0.5)),
}


def _linen_sequence(case: str, dtype=jnp.float32, key=jax.random.PRNGKey(0)):
    model = models.SequenceSNN(num_outputs=2, encoder="sequence", **SEQUENCE_CASES[case])
    h = 2.0 * jax.random.normal(jax.random.PRNGKey(4), (T, B, 1), dtype)
    variables = model.init(key, h, train=True, encoded=True)
    return model, variables, h


def test_converter_round_trip_is_exact():
    linen_model, variables, _ = _linen_sequence("ce_lif_recurrent")
    model = snnx.SequenceSNN.from_linen(linen_model, variables)
    chex.assert_trees_all_equal(snnx.linen_variables(model), {"params": dict(variables["params"])})
    # NNX -> Linen -> NNX: a fresh NNX init loaded with a converted one is that one
    other = snnx.SequenceSNN(1, (3, 4), 2, recurrent_layers=(1,), te_steps=T, rngs=nnx.Rngs(7))
    snnx.load_linen_variables(model, snnx.linen_variables(other))
    chex.assert_trees_all_equal(nnx.state(model, nnx.Param), nnx.state(other, nnx.Param))


def test_converter_names_what_does_not_fit():
    _, variables, _ = _linen_sequence("ce_lif_recurrent")
    model = snnx.SequenceSNN(1, (3, 5), 2, recurrent_layers=(1,), te_steps=T, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"layer1/w_rec: model \(5, 5\), given \(4, 4\)"):
        snnx.load_linen_variables(model, variables)
    params = dict(variables["params"])
    params.pop("te")
    model = snnx.SequenceSNN(1, (3, 4), 2, recurrent_layers=(1,), te_steps=T, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"missing \['te'\]"):
        snnx.load_linen_variables(model, {"params": params})
    with pytest.raises(ValueError, match="spikes"):
        snnx.load_linen_variables(model, {**variables, "spikes": {"neuron0": {"rate": (jnp.ones(()),)}}})


# --- the sequence nets -----------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(SEQUENCE_CASES))
def test_sequence_snn_equals_linen_outputs_states_and_gradients_float64(case):
    with jax.enable_x64(True):
        linen_model, variables, h = _linen_sequence(case, jnp.float64)
        params = _float64(_perturbed(dict(variables["params"]), jax.random.PRNGKey(5), scale=0.2))
        model = snnx.SequenceSNN.from_linen(linen_model, {"params": params})
        out, state = model(h)
        assert float(jnp.abs(out.out).sum()) > 0
        for train in (True, False):  # Linen's layer schedule (train) and step schedule (CPU eval)
            out_l, state_l = linen_model.apply({"params": params}, h, train=train, encoded=True, return_state=True)
            chex.assert_trees_all_close((out.out, state), (out_l.out, state_l), **TOL)
        assert out.readout == out_l.readout

        def linen_loss(p, h):
            out, state = linen_model.apply({"params": p}, h, train=True, encoded=True, return_state=True)
            return _state_loss(out.out, state.layers) + jnp.sum(out.prediction() ** 2)

        def nnx_loss(model, h):
            out, state = model(h)
            return _state_loss(out.out, state.layers) + jnp.sum(out.prediction() ** 2)

        g_p, g_h = jax.grad(linen_loss, (0, 1))(params, h)
        g_model, g_h_nnx = nnx.grad(nnx_loss, argnums=(0, 1))(model, h)
        chex.assert_trees_all_close((snnx.linen_tree(g_model), g_h_nnx), (g_p, g_h), **TOL)


def test_sequence_snn_chunks_and_scanned_steps_equal_one_call():
    linen_model, variables, h = _linen_sequence("ce_lif_recurrent")
    model = snnx.SequenceSNN.from_linen(linen_model, variables)
    out, state = model(h)
    out1, st = model(h[:2], model.initial_state(B))
    out2, st = model(h[2:], st)
    chex.assert_trees_all_close((jnp.concatenate([out1.out, out2.out]), st), (out.out, state), atol=1e-6)

    def body(st, x_t):
        out_t, st = model.step(x_t, st)
        return st, out_t

    st_lax, outs_lax = jax.lax.scan(body, model.initial_state(B), h)
    chex.assert_trees_all_close((outs_lax, st_lax), (out.out, state), atol=1e-6)

    @nnx.scan(in_axes=(None, nnx.Carry, 0), out_axes=(nnx.Carry, 0))
    def run(model, st, x_t):
        out_t, st = model.step(x_t, st)
        return st, out_t

    st_nnx, outs_nnx = run(model, model.initial_state(B), h)
    chex.assert_trees_all_close((outs_nnx, st_nnx), (out.out, state), atol=1e-6)


def test_sequence_snn_trains_with_nnx_optimizer_under_nnx_jit_and_jax_jit():
    model = snnx.SequenceSNN(1, (4,), 2, te_steps=T, rngs=nnx.Rngs(0))
    h = 2.0 * jax.random.normal(jax.random.PRNGKey(6), (T, 4, 1))
    labels = jnp.array([0, 1, 0, 1])

    def loss_fn(model, h, labels):
        out, _ = model(h)
        return optax.softmax_cross_entropy_with_integer_labels(out.prediction(), labels).mean()

    @nnx.jit
    def nnx_step(model, optimizer, h, labels):
        loss, grads = nnx.value_and_grad(loss_fn)(model, h, labels)
        optimizer.update(model, grads)
        return loss

    twin = snnx.SequenceSNN(1, (4,), 2, te_steps=T, rngs=nnx.Rngs(1))
    snnx.load_linen_variables(twin, snnx.linen_variables(model))
    optimizer = nnx.Optimizer(model, optax.sgd(0.5, momentum=0.9), wrt=nnx.Param)  # adam: strict promotion fails in optax
    twin_optimizer = nnx.Optimizer(twin, optax.sgd(0.5, momentum=0.9), wrt=nnx.Param)  # adam: strict promotion fails in optax
    graphdef, state = nnx.split((twin, twin_optimizer))

    @jax.jit
    def split_step(state, h, labels):
        twin, opt = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(loss_fn)(twin, h, labels)
        opt.update(twin, grads)
        return loss, nnx.state((twin, opt))

    losses, split_losses = [], []
    for _ in range(4):
        losses.append(float(nnx_step(model, optimizer, h, labels)))
        loss, state = split_step(state, h, labels)
        split_losses.append(float(loss))
    nnx.update((twin, twin_optimizer), state)
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(split_losses, losses, rtol=1e-6)
    chex.assert_trees_all_close(nnx.state(twin, nnx.Param), nnx.state(model, nnx.Param), atol=1e-6)


def test_import_snnjax_does_not_load_flax_nnx():
    import subprocess
    import sys

    code = "import sys, snnjax, snnjax.layers, snnjax.models; print('flax.nnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
