"""snnjax.nnx: the NNX modules compute what the Linen ones do for the same weights (float64, 1e-12),
forward and gradients, for every registered neuron kind and for the sequence nets; the converter
moves weights both ways; the explicit state runs in lax.scan, nnx.scan, nnx.jit and jax.jit."""

import functools

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
from snnjax.models.conv_net import ConvOptions
from snnjax.models.spec import parse_spec

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
    argnums = (0, 1, 2) if needs_te else (0, 1)
    with jax.enable_x64(True):
        kx, kt, kp = jax.random.split(jax.random.PRNGKey(1), 3)
        x = 1.5 * jax.random.normal(kx, (T, B, N), jnp.float64)
        te = 0.3 * jax.random.normal(kt, (T, N), jnp.float64) if needs_te else None
        linen_layer = layers.SpikingNeuron(cfg)
        params = _float64(_perturbed(dict(linen_layer.init(kp, x, te=te).get("params", {})), kp))
        layer = snnx.load_linen_variables(snnx.SpikingNeuron(N, cfg), {"params": params} if params else {})

        def linen_loss(p, x, te):
            return _state_loss(*linen_layer.apply({"params": p}, x, te=te, return_state=True))

        @jax.jit  # one compile per side: eager float64 scans cost seconds per call
        def linen_run(p, x, te):
            return linen_layer.apply({"params": p}, x, te=te, return_state=True), jax.grad(linen_loss, argnums)(p, x, te)

        def nnx_loss(layer, x, te):
            return _state_loss(*layer(x, layer.initial_state((B,), jnp.float64), te=te))

        @nnx.jit
        def nnx_run(layer, x, te):
            return layer(x, te=te), nnx.grad(nnx_loss, argnums=argnums)(layer, x, te)

        out_linen, g_linen = linen_run(params, x, te)
        (s_nnx, st_nnx), g_nnx = nnx_run(layer, x, te)
        assert float(s_nnx.sum()) > 0  # the comparison sees spikes
        chex.assert_trees_all_close((s_nnx, st_nnx), out_linen, **TOL)
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
    with NEURON_KINDS.scoped():
        layers.register_neuron("lif_learned_k_nnx_test", kind)
        layer = snnx.SpikingNeuron(N, NeuronConfig(kind="lif_learned_k_nnx_test"))
        np.testing.assert_array_equal(layer.k[...], jnp.full((N,), 0.25))
        s, _ = layer(jnp.full((T, B, N), 0.9))
        np.testing.assert_array_equal(s[:, 0, 0], [0, 1, 0, 1, 0])  # u = 0.9, 0.25·0.9 + 0.9 ≥ 1 fires, reset...


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


@functools.lru_cache(maxsize=None)
def _linen_sequence(case: str, dtype=jnp.float32):
    """A Linen net of ``case``, its variables (init under one jit) and an encoded input ``[T, B, 1]``."""
    model = models.SequenceSNN(num_outputs=2, encoder="sequence", **SEQUENCE_CASES[case])
    h = 2.0 * jax.random.normal(jax.random.PRNGKey(4), (T, B, 1), dtype)
    init = jax.jit(lambda key, h: model.init(key, h, train=True, encoded=True))
    return model, init(jax.random.PRNGKey(0), h), h


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

def _nnx_sequence(case: str, seed: int = 0) -> snnx.SequenceSNN:
    kwargs = dict(SEQUENCE_CASES[case])
    return snnx.SequenceSNN(1, kwargs.pop("hidden"), 2, encoder="sequence", te_steps=T, **kwargs,
                            rngs=nnx.Rngs(seed))


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(SEQUENCE_CASES))
def test_sequence_snn_equals_linen_outputs_states_and_gradients_float64(case):
    with jax.enable_x64(True):
        model = _nnx_sequence(case)
        linen_model = model.to_linen()
        h = 2.0 * jax.random.normal(jax.random.PRNGKey(4), (T, B, 1), jnp.float64)
        params = _float64(_perturbed(snnx.linen_variables(model)["params"], jax.random.PRNGKey(5), scale=0.2))
        # the layout Linen's init makes (shapes only, nothing compiled) is the one converted
        linen_shapes = jax.eval_shape(lambda: linen_model.init(jax.random.PRNGKey(0), h, train=True, encoded=True))
        chex.assert_trees_all_equal_shapes(dict(linen_shapes["params"]), params)
        snnx.load_linen_variables(model, {"params": params})

        def loss(out, state):
            return _state_loss(out.out, state.layers) + jnp.sum(out.prediction() ** 2)

        def linen_loss(p, h):
            out = linen_model.apply({"params": p}, h, train=True, encoded=True, return_state=True)
            return loss(*out), out

        @jax.jit  # one compile per side: eager float64 scans cost seconds per call
        def linen_run(p, h):
            eval_out = linen_model.apply({"params": p}, h, train=False, encoded=True, return_state=True)
            return eval_out, jax.grad(linen_loss, (0, 1), has_aux=True)(p, h)

        @nnx.jit
        def nnx_run(model, h):
            return model(h), nnx.grad(lambda m, h: loss(*m(h)), argnums=(0, 1))(model, h)

        (out, state), (g_model, g_h_nnx) = nnx_run(model, h)
        eval_out, ((g_p, g_h), train_out) = linen_run(params, h)
        assert float(jnp.abs(out.out).sum()) > 0
        for out_l, state_l in (train_out, eval_out):  # Linen's layer schedule (train) and step schedule (CPU eval)
            chex.assert_trees_all_close((out.out, state), (out_l.out, state_l), **TOL)
            assert out.readout == out_l.readout
        chex.assert_trees_all_close((snnx.linen_tree(g_model), g_h_nnx), (g_p, g_h), **TOL)


@pytest.mark.slow
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


@pytest.mark.slow
def test_example_trains_and_its_step_scan_and_linen_twin_agree():
    import pathlib
    import runpy

    example = pathlib.Path(__file__).resolve().parents[2] / "examples" / "nnx_sequence.py"
    main = runpy.run_path(str(example))["main"]
    with jax.numpy_dtype_promotion("standard"):  # optax's adam has no strict promotion path (snnjax.tool.optim)
        result = main(steps=60)
    assert result["last_loss"] < 0.8 * result["first_loss"]
    assert result["test_accuracy"] >= 0.75  # chance is 0.5
    assert result["max_abs_difference_step_scan"] < 1e-5
    assert result["max_abs_difference_linen"] < 1e-5


# --- the conv nets ---------------------------------------------------------------------------------

CONV_CASES = {
    # llc-lif text: LLC-BN scaled by the block's shared LLC-LIF leak, statistics pooled over T, direct
    # coding with a static first conv, voting (20-10)
    "llc_bn_text": ("4c3-p2-6c3-p2-20-10", (8, 8, 1), NeuronConfig(kind="llc_lif", learn_threshold=True),
                    ConvOptions(time_steps=3, norm="llc_bn")),
    # released-code switches: LLC-BN's own leak, per-step statistics (the static conv's counted T
    # times), conv bias, ReLU before the neurons and on dense currents, subsampling, average pooling
    "llc_bn_code_switches": ("4c3-s2-4c3-ap2-16-10", (8, 8, 1), NeuronConfig(kind="llc_lif", per_channel=True, v_th=0.3),
                             ConvOptions(time_steps=3, norm="llc_bn", llc_bn_leak="own", norm_stats="per_step",
                                         static_norm_updates="per_step", conv_bias=True, relu_before_neuron=True,
                                         dense_relu=True)),
    # llc-lif text: OSSA at t = 0 after the first block, a local classifier after every conv block
    "ossa_text_per_conv_heads": ("4c3-p2-6c3-p2-20-10", (8, 8, 1), NeuronConfig(kind="llc_lif", learn_threshold=True),
                                 ConvOptions(time_steps=3, norm="llc_bn", ossa=True, local_heads="per_conv",
                                             local_dropout=0.0)),
    # a trunk that starts with subsampling (blocks conv1, conv2), the released code's two local heads
    # (on the first conv's analog output and on the last features) with local learning
    "subsample_first_code_heads": ("s2-4c3-6c3-p2-20-10", (8, 8, 1), NeuronConfig(kind="lif", v_th=0.5),
                                   ConvOptions(time_steps=3, norm="bn", local_heads="code", local_detach=True,
                                               local_dropout=0.0)),
    # the released llc-lif code's double trunk call (every step's first-conv drive fed twice to the
    # neurons after it; the head reads the first call, the second code head the second), with OSSA
    # shared at t = 0 (both calls) and LLC-BN scaled by the shared leak
    "trunk_calls_2": ("4c3-p2-6c3-p2-20-10", (8, 8, 1), NeuronConfig(kind="llc_lif", learn_threshold=True),
                      ConvOptions(time_steps=3, norm="llc_bn", ossa=True, local_heads="code", trunk_calls=2,
                                  local_dropout=0.0)),
    # the released llc-lif net: the onset block (t = 0 through its own trunk onset_conv1, ... and
    # onset_ossa), the first conv's neurons split at t = 0, the double trunk call, LLC-BN's own leak
    "released_llc_lif_onset": ("4c3-p2-6c3-p2-20-10", (8, 8, 1), NeuronConfig(kind="llc_lif", per_channel=True),
                               ConvOptions(time_steps=3, norm="llc_bn", llc_bn_leak="own", norm_stats="per_step",
                                           ossa=True, ossa_form="code", ossa_onset="separate", first_neuron="split",
                                           trunk_calls=2, local_heads="code", local_dropout=0.0, dense_bias=False)),
    # the onset block alone: one trunk call, the first conv's neurons shared
    "ossa_separate_onset": ("4c3-6c3-p2-20-10", (6, 6, 1), NeuronConfig(kind="lif", v_th=0.5),
                            ConvOptions(time_steps=3, norm="bn", ossa=True, ossa_onset="separate", local_heads="code",
                                        local_dropout=0.0)),
    # a dense net on direct-coded vectors: the first dense layer runs once and is repeated over T
    "dense_static": ("16-10", (12,), NeuronConfig(kind="alif", decay=0.8, v_th=0.5), ConvOptions(time_steps=4)),
}


def _local_loss(out) -> jax.Array:
    return sum((0.7 + i) * jnp.sum(local) for i, local in enumerate(out.local_outs))


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_snn_equals_linen_outputs_statistics_states_and_gradients_float64(case):
    spec, input_shape, neuron, opts = CONV_CASES[case]
    layers_ = parse_spec(spec, 10)
    with jax.enable_x64(True):
        model = snnx.ConvSNN(layers_, 10, input_shape, neuron=neuron, opts=opts, rngs=nnx.Rngs(0))
        linen_model = models.ConvSNN(layers_, 10, neuron, opts)
        x = jax.random.uniform(jax.random.PRNGKey(8), (B,) + input_shape, jnp.float64)
        variables = _float64(_perturbed(snnx.linen_variables(model), jax.random.PRNGKey(9), scale=0.2))
        if "batch_stats" in variables:  # a variance must stay positive
            variables["batch_stats"] = jax.tree.map(jnp.abs, variables["batch_stats"])
        linen_shapes = jax.eval_shape(lambda: linen_model.init(jax.random.PRNGKey(0), x, train=False))
        chex.assert_trees_all_equal_shapes(dict(linen_shapes), variables)
        snnx.load_linen_variables(model, variables)
        carried = not opts.ossa  # Linen refuses a neuron_state collection with OSSA (every call starts at t = 0)
        collections = ["batch_stats"] + (["neuron_state"] if carried else [])

        def linen_loss(p, x):
            out, new = linen_model.apply({**variables, "params": p}, x, train=True, mutable=collections)
            return _state_loss(out.out, new.get("neuron_state", {})) + _local_loss(out), (out, new)

        @jax.jit
        def linen_run(p, x):
            eval_out = linen_model.apply({**variables, "params": p}, x, train=False)
            return eval_out, jax.grad(linen_loss, (0, 1), has_aux=True)(p, x)

        @nnx.jit
        def nnx_run(model, x):
            eval_out, _ = model(x, train=False)
            train_out, state = model(x, train=True)  # updates the running statistics
            stats = snnx.linen_variables(model).get("batch_stats", {})
            def loss(model, x):
                out, state = model(x, train=True)
                return _state_loss(out.out, snnx.neuron_state_to_linen(state) if carried else {}) + _local_loss(out)

            return eval_out, train_out, state, stats, nnx.grad(loss, argnums=(0, 1))(model, x)

        eval_out, train_out, state, stats, (g_model, g_x) = nnx_run(model, x)
        eval_l, ((g_p, g_xl), (train_l, new_l)) = linen_run(variables["params"], x)
        assert float(train_out.out.sum()) > 0
        expected_heads = {"ossa_text_per_conv_heads": 2, "subsample_first_code_heads": 1,  # no conv0: one head
                          "trunk_calls_2": 2, "released_llc_lif_onset": 2, "ossa_separate_onset": 2}.get(case, 0)
        assert len(train_out.local_outs) == len(train_l.local_outs) == expected_heads
        chex.assert_trees_all_close((eval_out.out, eval_out.local_outs), (eval_l.out, eval_l.local_outs), **TOL)
        chex.assert_trees_all_close((train_out.out, train_out.local_outs), (train_l.out, train_l.local_outs), **TOL)
        if carried:
            chex.assert_trees_all_close(state, snnx.neuron_state_from_linen(new_l["neuron_state"]), **TOL)
        chex.assert_trees_all_close(stats, dict(new_l.get("batch_stats", {})), **TOL)
        chex.assert_trees_all_close((snnx.linen_tree(g_model), g_x), (g_p, g_xl), **TOL)


def test_conv_snn_carries_neuron_states_across_calls_but_not_with_an_onset_block():
    spec, input_shape, neuron, opts = CONV_CASES["llc_bn_text"]
    model = snnx.ConvSNN(spec, 10, input_shape, neuron=neuron, opts=opts, rngs=nnx.Rngs(0))
    x = jax.random.uniform(jax.random.PRNGKey(10), (B,) + input_shape)
    run = nnx.jit(lambda m, x, st, t: m(x, st, train=False, time_steps=t), static_argnums=3)
    out, state = run(model, x, model.initial_state(B), 5)
    out1, st = run(model, x, model.initial_state(B), 2)
    out2, st = run(model, x, st, 3)
    chex.assert_trees_all_close((jnp.concatenate([out1.out, out2.out]), st), (out.out, state), atol=1e-6)
    spec, input_shape, neuron, opts = CONV_CASES["released_llc_lif_onset"]
    onset_model = snnx.ConvSNN(spec, 10, input_shape, neuron=neuron, opts=opts, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="OSSA"):
        onset_model(x, onset_model.initial_state(B), train=False)


def test_time_consistent_dropout_drops_a_neuron_for_every_step():
    x = jnp.ones((4, 3, 50))
    y = snnx.time_consistent_dropout(x, 0.5, jax.random.PRNGKey(0), train=True)
    np.testing.assert_array_equal(y, jnp.broadcast_to(y[:1], y.shape))  # one mask for all T steps
    assert set(np.unique(np.asarray(y))) == {0.0, 2.0}
    np.testing.assert_array_equal(snnx.time_consistent_dropout(x, 0.5, None, train=False), x)
    with pytest.raises(ValueError, match="key"):
        snnx.time_consistent_dropout(x, 0.5, None, train=True)


def test_a_membrane_variable_assigned_inside_a_raw_lax_scan_fails_which_is_why_state_is_a_carry():
    class VariableMembrane(nnx.Module):  # the design snnjax.nnx does not use (docs/nnx.md)
        def __init__(self):
            self.v = nnx.Variable(jnp.zeros((2,)))

        def __call__(self, x_t):
            self.v[...] = 0.5 * self.v[...] + x_t
            return self.v[...]

    layer = VariableMembrane()
    with pytest.raises(Exception, match="Cannot mutate Variable from a different trace level"):
        jax.lax.scan(lambda c, x_t: (c, layer(x_t)), 0.0, jnp.ones((3, 2)))


@pytest.mark.parametrize("form", ["text", "code"])
def test_ossa_equals_linen_forward_and_gradients_float64(form):
    neuron = NeuronConfig(kind="llc_lif", v_th=0.5)
    with jax.enable_x64(True):
        x = jax.random.uniform(jax.random.PRNGKey(11), (B, 3, 3, 4), jnp.float64)
        ossa = snnx.OSSA(4, neuron, form=form, reduction=2, rngs=nnx.Rngs(0))
        linen_ossa = layers.OSSA(neuron, form=form, reduction=2)
        params = _float64(_perturbed(snnx.linen_variables(ossa)["params"], jax.random.PRNGKey(12), scale=0.2))
        shapes = jax.eval_shape(lambda: linen_ossa.init(jax.random.PRNGKey(0), x, train=False))
        chex.assert_trees_all_equal_shapes(dict(shapes["params"]), params)
        snnx.load_linen_variables(ossa, {"params": params})
        weights = jnp.linspace(0.5, 1.5, x.size, dtype=jnp.float64).reshape(x.shape)

        @jax.jit
        def linen_run(p, x):
            f = lambda p, x: jnp.sum(linen_ossa.apply({"params": p}, x, train=False) * weights)
            return linen_ossa.apply({"params": p}, x, train=False), jax.grad(f, (0, 1))(p, x)

        @nnx.jit
        def nnx_run(ossa, x):
            f = lambda m, x: jnp.sum(m(x, train=False) * weights)
            return ossa(x, train=False), nnx.grad(f, argnums=(0, 1))(ossa, x)

        out, (g_m, g_x) = nnx_run(ossa, x)
        out_l, (g_p, g_xl) = linen_run(params, x)
        assert float(jnp.abs(out - (x if form == "code" else 0.0)).sum()) > 0  # the attention's output counts
        chex.assert_trees_all_close((out, snnx.linen_tree(g_m), g_x), (out_l, g_p, g_xl), **TOL)
