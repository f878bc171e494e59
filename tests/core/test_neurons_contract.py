"""One contract for every neuron: jit, vmap, grad and remat agree with eager; shapes and dtypes;
state carried across calls equals one call; spikes are exactly 0/1 (hypothesis). The pure functions
with their variants first, then every kind registered in ``NEURON_KINDS`` through its ``NeuronKind``
(a kind registered later, e.g. a user's in a scoped registry, runs the same :func:`check_kind_contract`)."""

import functools

import chex
import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnjax import neurons, surrogate
from snnjax.core.neurons import NEURON_KINDS, NeuronConfig, NeuronKind, register_neuron
from snnjax.core.neurons.kind import layer_parameters, per_layer_or_channel

# name -> (multi-step function with parameters bound, init-state function)
NEURONS = {
    "lif": functools.partial(neurons.lif, decay=0.6, v_th=0.8),
    "lif-soft-bpta": functools.partial(neurons.lif, decay=0.9, v_th=0.5, reset="soft", bpta_alpha=0.8),
    "lif-bpsa": functools.partial(neurons.lif, decay=0.9, v_th=0.5, spike_fn=surrogate.bpsa(), bpta_alpha=0.2),
    "llc_lif": lambda x, **kw: neurons.llc_lif(x, jnp.float32(0.2), **kw),
    "llc_lif-code": lambda x, **kw: neurons.llc_lif(x, jnp.float32(0.0), decay_input=True, detach_reset=True, spike_fn=surrogate.atan(), **kw),
    "alif": functools.partial(neurons.alif, decay=0.7, rho=0.9, beta=0.5, v_th=0.6),
    # TE per neuron: [T, *x.shape[2:]], or [T, B] for a [T, B] input (a shape-[T] TE is refused)
    "ce_lif": lambda x, **kw: neurons.ce_lif(x, 0.05 * jnp.ones((x.shape[0],) + (x.shape[2:] or x.shape[1:]), x.dtype), **kw),
    "if": functools.partial(neurons.if_neuron, v_th=0.9),
    "plif": lambda x, **kw: neurons.plif(x, jnp.float32(neurons.plif_w_init(2.0)), **kw),
    "plif-soft-no-decay-input": lambda x, **kw: neurons.plif(x, jnp.float32(0.3), decay_input=False, reset="soft", **kw),
    "leaky-subtract-strict": functools.partial(neurons.leaky, decay=0.8, v_th=0.7, reset="soft",
                                               spike_fn=surrogate.strict(surrogate.fast_sigmoid())),
    "leaky-zero": functools.partial(neurons.leaky, decay=0.8, v_th=0.7, reset="hard", spike_fn=surrogate.atan()),
    "cuba_lif": functools.partial(neurons.cuba_lif, decay=0.8, syn_decay=0.6, v_th=0.7, detach_reset=True),
    "lif-learnable-threshold": lambda x, **kw: neurons.lif(x, decay=0.6, v_th=jnp.full(x.shape[2:], 0.8, x.dtype), **kw),
}

# The same under jax.jit, for the hypothesis tests: eager and jit agree (the first test below)
_JITTED = {name: jax.jit(f) for name, f in NEURONS.items()}
_ce_lif = jax.jit(neurons.ce_lif)


def _x(shape, seed=0, dtype=jnp.float32):
    return jnp.asarray(np.random.default_rng(seed).normal(0.5, 0.7, shape), dtype)


@pytest.mark.parametrize("name", sorted(NEURONS))
def test_jit_vmap_grad_remat_agree_with_eager(name):
    f = NEURONS[name]
    x = _x((7, 3, 4))
    s, state = f(x)
    chex.assert_shape(s, (7, 3, 4))
    chex.assert_type(s, jnp.float32)
    for leaf in jax.tree.leaves(state):
        chex.assert_shape(leaf, (3, 4))
    chex.assert_trees_all_close(jax.jit(f)(x), (s, state))
    # vmap over an extra batch axis placed after time
    xs = jnp.stack([x, 2 * x], axis=1)
    s_v, _ = jax.vmap(f, in_axes=1, out_axes=1)(xs)
    chex.assert_trees_all_close(s_v[:, 0], s)
    chex.assert_trees_all_close(s_v[:, 1], f(2 * x)[0])
    w = _x((7, 3, 4), seed=1)
    loss = lambda x: jnp.sum(f(x)[0] * w)
    g = jax.grad(loss)(x)
    assert np.abs(np.asarray(g)).sum() > 0
    chex.assert_trees_all_close(jax.jit(jax.grad(loss))(x), g, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(jax.grad(jax.checkpoint(loss))(x), g, rtol=1e-5, atol=1e-6)


BF16_EPS = float(jnp.finfo(jnp.bfloat16).eps)  # 2**-7, the spacing of bfloat16 numbers at 1
# Relative gradient tolerance of the bfloat16 run. The fast sigmoid (slope k = 25) is the sharpest
# surrogate here: d log g'/dx = −2k / (1 + k|x|) ≈ −50 at the threshold, so one bfloat16 rounding of
# u − θ (≈ 2⁻⁸ for |u| < 1) moves g' by up to ~20 %; the others move it by a few per cent.
GRAD_RTOL = {"leaky-subtract-strict": 0.25}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NEURONS))
def test_bfloat16_run_matches_float32_in_conv_layout(name):
    """The bfloat16 run is the float32 run up to bfloat16 rounding.

    Both runs see the same (bfloat16-representable) input. A spike can flip where the membrane is
    within rounding of the threshold, and after a flip that neuron's trajectory differs, so: at most
    1 % of the spikes may differ; the final state of every neuron whose spike train agrees matches
    within ``T`` bfloat16 roundings; the surrogate gradient matches in relative norm.
    """
    f = NEURONS[name]
    t = 8
    x32 = _x((t, 4, 6, 6, 3)).astype(jnp.bfloat16).astype(jnp.float32)
    x16 = x32.astype(jnp.bfloat16)
    s32, state32 = f(x32)
    s16, state16 = f(x16)
    chex.assert_shape(s16, x16.shape)
    chex.assert_type(s16, jnp.bfloat16)
    s32, s16 = np.asarray(s32), np.asarray(s16, np.float32)
    assert 0.05 < s32.mean() < 0.95, "the input must make the neurons fire sometimes, not always"
    assert np.mean(s16 != s32) <= 0.01
    agree = np.all(s16 == s32, axis=0)
    assert agree.mean() >= 0.95
    for leaf32, leaf16 in zip(jax.tree.leaves(state32), jax.tree.leaves(state16), strict=True):
        chex.assert_type(leaf16, jnp.bfloat16)
        a, b = np.asarray(leaf32)[agree], np.asarray(leaf16, np.float32)[agree]
        np.testing.assert_array_less(np.abs(a - b), t * BF16_EPS * np.maximum(1.0, np.abs(a)))
    w = _x(x32.shape, seed=1)
    g32 = jax.grad(lambda x: jnp.sum(f(x)[0] * w))(x32)
    g16 = jax.grad(lambda x: jnp.sum(f(x)[0].astype(jnp.float32) * w))(x16)
    chex.assert_type(g16, jnp.bfloat16)
    g16 = np.asarray(g16, np.float32)
    assert np.all(np.isfinite(g16))
    assert np.linalg.norm(g16 - g32) <= GRAD_RTOL.get(name, 0.15) * np.linalg.norm(g32)


@pytest.mark.parametrize("name", sorted(NEURONS))
def test_unroll_does_not_change_results(name):
    f = NEURONS[name]
    x = _x((9, 2, 3))
    chex.assert_trees_all_close(f(x, unroll=4), f(x))


@pytest.mark.parametrize("name", sorted(NEURONS))
@settings(max_examples=15, deadline=None)
@given(
    data=hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=5),
                    elements=st.floats(-3.0, 3.0, width=32)),
    split=st.integers(0, 5),
)
@pytest.mark.slow
def test_spikes_binary_and_state_carries_across_calls(name, data, split):
    f = _JITTED[name]  # one compile per drawn shape (eager, each call dispatches and compiles op by op)
    x = jnp.asarray(data)
    s, state = f(x)
    assert set(np.unique(np.asarray(s))) <= {0.0, 1.0}
    k = min(split, x.shape[0] - 1)
    if k == 0 or name == "ce_lif":
        return  # ce_lif's TE is tied to the sequence; tested separately below
    s1, state1 = f(x[:k])
    s2, state2 = f(x[k:], state=state1)
    np.testing.assert_array_equal(np.concatenate([s1, s2]), np.asarray(s))
    chex.assert_trees_all_close(state2, state, rtol=1e-6, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(
    data=hnp.arrays(np.float32, st.tuples(st.integers(2, 8), st.integers(1, 3), st.integers(1, 4)),
                    elements=st.floats(-2.0, 2.0, width=32)),
    split=st.integers(1, 7),
    seed=st.integers(0, 100),
)
@pytest.mark.slow
def test_ce_lif_state_carries_across_calls(data, split, seed):
    x = jnp.asarray(data)
    te = jnp.asarray(np.random.default_rng(seed).normal(0.0, 0.5, (x.shape[0], x.shape[2])), jnp.float32)
    k = min(split, x.shape[0] - 1)
    s, state = _ce_lif(x, te)
    s1, st1 = _ce_lif(x[:k], te[:k])
    s2, st2 = _ce_lif(x[k:], te[k:], state=st1)
    np.testing.assert_array_equal(np.concatenate([s1, s2]), np.asarray(s))
    chex.assert_trees_all_close(st2, state, rtol=1e-6, atol=1e-6)


def test_gradient_carries_across_calls():
    """Gradient through a carried state (BPTA residual included) equals one call's."""
    x = _x((8, 2, 3))
    f = NEURONS["lif-bpsa"]
    w = _x((8, 2, 3), seed=2)
    whole = jax.grad(lambda x: jnp.sum(f(x)[0] * w))(x)

    def split(x):
        s1, st = f(x[:3])
        s2, _ = f(x[3:], state=st)
        return jnp.sum(jnp.concatenate([s1, s2]) * w)

    chex.assert_trees_all_close(jax.grad(split)(x), whole, rtol=1e-6)


def test_single_step_functions_in_a_user_scan():
    x = _x((6, 2, 3))
    step = functools.partial(neurons.alif_step, decay=0.7, rho=0.9, beta=0.5, v_th=0.6)
    _, s = jax.lax.scan(step, neurons.alif_init_state((2, 3)), x)
    chex.assert_trees_all_equal(s, NEURONS["alif"](x)[0])
    te = 0.05 * jnp.ones((6, 3), jnp.float32)
    _, s = jax.lax.scan(lambda st, xs: neurons.ce_lif_step(st, *xs), neurons.ce_lif_init_state((2, 3)), (x, te))
    chex.assert_trees_all_equal(s, neurons.ce_lif(x, te)[0])
    _, s = jax.lax.scan(lambda st, x_t: neurons.llc_lif_step(st, x_t, jnp.float32(0.2)), neurons.lif_init_state((2, 3)), x)
    chex.assert_trees_all_equal(s, NEURONS["llc_lif"](x)[0])


# --- every registered kind, through its NeuronKind (the registry, not a hand list) -----------------


def _kind_inputs(name: str, cfg: NeuronConfig, shape=(6, 3, 4)):
    """The kind, its parameters at their initial values, an input ``[T, B, N]`` and CE-LIF's ``te``."""
    kind = NEURON_KINDS.lookup(name)
    specs = layer_parameters(cfg, shape[-1])
    params = {n: spec.initial_value(jax.random.key(i)) for i, (n, spec) in enumerate(specs.items())}
    te = 0.05 * jnp.ones((shape[0], shape[-1]), jnp.float32) if kind.needs_te else None
    return kind, params, _x(shape), te


def check_kind_contract(name: str, cfg: NeuronConfig | None = None) -> None:
    """What every registered kind must do: binary spikes of the input's shape and dtype, a state of
    one step's shape; its sequence equals a scan of its step from its initial state; jit, vmap and
    remat agree with eager; a state carried across two calls equals one call; finite, non-zero
    gradients to the input and to every parameter."""
    cfg = cfg or NeuronConfig(kind=name, v_th=0.5)
    kind, params, x, te = _kind_inputs(name, cfg)
    T, B, N = x.shape
    s, state = kind.run(cfg, params, x, None, te)
    chex.assert_shape(s, x.shape)
    chex.assert_type(s, jnp.float32)
    assert set(np.unique(np.asarray(s))) == {0.0, 1.0}, "the input must make the neurons fire sometimes"
    for leaf in jax.tree.leaves(state):
        chex.assert_shape(leaf, (B, N))
    # the sequence is the step, scanned from the initial state
    step = kind.step(cfg, params)
    xs = x if te is None else (x, te)
    body = (lambda st, x_t: step(st, x_t)) if te is None else (lambda st, xs_t: step(st, *xs_t))
    state_scan, s_scan = jax.lax.scan(body, kind.init_state(cfg, params, (B, N), x.dtype), xs)
    chex.assert_trees_all_close((s_scan, state_scan), (s, state), rtol=1e-6, atol=1e-6)
    # jit; vmap over a second batch axis placed after time
    run = lambda p, x, state=None, te=te: kind.run(cfg, p, x, state, te)  # noqa: E731
    chex.assert_trees_all_close(jax.jit(run)(params, x), (s, state), rtol=1e-6, atol=1e-6)
    s_v, _ = jax.vmap(lambda x: run(params, x), in_axes=1, out_axes=1)(jnp.stack([x, 2 * x], axis=1))
    chex.assert_trees_all_close(s_v[:, 0], s)
    # a state carried across calls
    k = T // 2
    s1, st1 = kind.run(cfg, params, x[:k], None, None if te is None else te[:k])
    s2, st2 = kind.run(cfg, params, x[k:], st1, None if te is None else te[k:])
    np.testing.assert_array_equal(np.concatenate([s1, s2]), np.asarray(s))
    chex.assert_trees_all_close(st2, state, rtol=1e-6, atol=1e-6)
    # gradients, the same under remat
    w = _x(x.shape, seed=1)
    loss = lambda p, x, c=cfg: jnp.sum(kind.run(c, p, x, None, te)[0] * w)  # noqa: E731
    g_p, g_x = jax.grad(loss, argnums=(0, 1))(params, x)
    assert np.all(np.isfinite(g_x)) and np.abs(np.asarray(g_x)).sum() > 0
    for n, g in g_p.items():
        assert np.all(np.isfinite(g)) and np.abs(np.asarray(g)).sum() > 0, n
    g_remat = jax.grad(lambda p, x: loss(p, x, cfg.replace(remat=True)), argnums=(0, 1))(params, x)
    chex.assert_trees_all_close(g_remat, (g_p, g_x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(NEURON_KINDS))
def test_every_registered_kind_keeps_the_contract(name):
    check_kind_contract(name)


@pytest.mark.parametrize("name", sorted(NEURON_KINDS))
def test_every_registered_kind_keeps_the_contract_with_a_learnt_threshold(name):
    check_kind_contract(name, NeuronConfig(kind=name, v_th=0.5, learn_threshold=True, per_channel=True))


class _SigmoidLeakLIF(NeuronKind):
    """A new neuron as a user writes it, in one class: a LIF whose leak ``sigmoid(d)`` is learnt."""

    options = ("per_channel", "bpta_alpha", "decay_input")

    def parameters(self, cfg, channels):
        return {"d": per_layer_or_channel(cfg, channels, 1.0)}

    def init_state(self, cfg, params, shape, dtype):
        return neurons.lif_init_state(shape, dtype)

    def step(self, cfg, params):
        kwargs = cfg.step_kwargs(params)
        return lambda state, x_t, te_t=None: neurons.lif_step(state, x_t, decay=jax.nn.sigmoid(params["d"]), **kwargs)


def test_a_new_kind_is_one_class_and_one_registration():
    """Registered (in a scoped registry), it keeps the contract, its options are checked, and the
    Linen and NNX layers create its parameter by its name, shape and initial value."""
    from flax import nnx

    from snnjax import layers
    from snnjax import nnx as snnx
    from snnjax.tool import validate
    from snnjax.tool.config import base_config

    with NEURON_KINDS.scoped():
        register_neuron("test_sigmoid_leak")(_SigmoidLeakLIF)
        check_kind_contract("test_sigmoid_leak")
        check_kind_contract("test_sigmoid_leak", NeuronConfig(kind="test_sigmoid_leak", v_th=0.5, per_channel=True))
        with pytest.raises(ValueError, match=r"^neuron\.decay=0\.9 is not read by 'test_sigmoid_leak' neurons"):
            NeuronConfig(kind="test_sigmoid_leak", decay=0.9)
        config = base_config()
        config.model.neuron.kind, config.model.neuron.decay = "test_sigmoid_leak", 0.9
        with pytest.raises(validate.ConfigError, match=r"model\.neuron: neuron\.decay=0\.9 is not read by"):
            validate.check_config(config)
        cfg = NeuronConfig(kind="test_sigmoid_leak", per_channel=True)
        x = _x((5, 2, 3))
        variables = layers.SpikingNeuron(cfg).init(jax.random.key(0), x)
        np.testing.assert_array_equal(variables["params"]["d"], np.ones(3, np.float32))
        nnx_layer = snnx.SpikingNeuron(3, cfg, rngs=nnx.Rngs(0))
        np.testing.assert_array_equal(nnx_layer.d[...], np.ones(3, np.float32))
        np.testing.assert_array_equal(nnx_layer(x)[0], layers.SpikingNeuron(cfg).apply(variables, x))
    assert "test_sigmoid_leak" not in NEURON_KINDS


def test_the_old_functional_form_still_builds_a_kind():
    """``NeuronKind(step=..., init_state=..., create_params=...)`` (0.1): the functions stand in for
    the methods, and ``create_params``'s ``module.param`` calls become parameter specs."""
    kind = NeuronKind(
        step=lambda cfg, p: lambda st, x, te=None: neurons.lif_step(st, x, decay=p["k"], **cfg.step_kwargs(p)),
        init_state=lambda cfg, p, shape, dtype: neurons.lif_init_state(shape, dtype),
        create_params=lambda m, cfg, c: {"k": m.param("k", lambda key, s: jnp.full(s, 0.25), (c,))},
        options=(),
    )
    specs = kind.parameters(NeuronConfig(), 4)
    assert list(specs) == ["k"] and specs["k"].shape == (4,)
    np.testing.assert_array_equal(specs["k"].initial_value(jax.random.key(0)), np.full(4, 0.25, np.float32))
    with NEURON_KINDS.scoped():
        register_neuron("test_functional_lif", kind)
        check_kind_contract("test_functional_lif")
    with pytest.raises(TypeError, match="unknown keyword 'create_param'; it takes step, init_state, sequence, create_params"):
        NeuronKind(create_param=lambda m, cfg, c: {})
