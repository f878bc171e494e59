"""Bad inputs to the neuron functions get one clear error instead of wrong spikes.

Integer inputs would make the membrane an integer (it takes the input's dtype), truncating a decay of
0.9 to 0 and a threshold of 2.5 to 2; a CE-LIF temporal encoding of shape ``[T]`` or ``[T, 1]`` would
broadcast one value to every neuron. Every public neuron, multi-step and single-step, is checked.
"""

import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import neurons

T, B, N = 3, 2, 4

# name -> multi-step call on x_seq [T, B, N]
MULTI = {
    "lif": lambda x: neurons.lif(x, decay=0.9, v_th=2.5),
    "lif-pallas": lambda x: neurons.lif(x, decay=0.9, v_th=2.5, impl="pallas"),
    "llc_lif": lambda x: neurons.llc_lif(x, jnp.float32(0.0)),
    "alif": lambda x: neurons.alif(x, decay=0.9, v_th=2.5),
    "ce_lif": lambda x: neurons.ce_lif(x, jnp.zeros((T, N), jnp.float32)),
}

# name -> (single-step call, init-state function)
STEP = {
    "lif_step": (lambda st, x: neurons.lif_step(st, x, decay=0.9, v_th=2.5), neurons.lif_init_state),
    "llc_lif_step": (lambda st, x: neurons.llc_lif_step(st, x, jnp.float32(0.0)), neurons.lif_init_state),
    "alif_step": (lambda st, x: neurons.alif_step(st, x, decay=0.9, v_th=2.5), neurons.alif_init_state),
    "ce_lif_step": (lambda st, x: neurons.ce_lif_step(st, x, jnp.zeros((N,), jnp.float32)),
                    lambda shape, dtype=jnp.float32: neurons.ce_lif_init_state(shape, dtype=dtype)),
}


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.uint8, jnp.bool_])
@pytest.mark.parametrize("name", sorted(MULTI))
def test_multi_step_neuron_rejects_non_float_input(name, dtype):
    x = jnp.ones((T, B, N), dtype)
    with pytest.raises(TypeError, match=r"x_seq has dtype .*astype\(jnp.float32\)"):
        MULTI[name](x)


@pytest.mark.parametrize("name", ["lif", "lif-pallas", "alif"])
def test_float_copy_of_integer_input_keeps_decay_and_threshold(name):
    # the fix the message suggests: membrane 1, 1.9, 2.71 crosses v_th = 2.5 at t = 2 (an integer
    # membrane would read 1, 1, 1 against a threshold of 2 and never fire)
    s, _ = MULTI[name](jnp.ones((T, B, N), jnp.int32).astype(jnp.float32))
    np.testing.assert_array_equal(np.asarray(s), np.broadcast_to(np.asarray([0.0, 0.0, 1.0])[:, None, None], (T, B, N)))


@pytest.mark.parametrize("name", sorted(STEP))
def test_single_step_neuron_rejects_integer_input(name):
    step, init = STEP[name]
    with pytest.raises(TypeError, match=r"the input x_t has dtype int32"):
        step(init((B, N)), jnp.ones((B, N), jnp.int32))


@pytest.mark.parametrize("name", sorted(STEP))
def test_single_step_neuron_rejects_integer_state(name):
    step, init = STEP[name]
    with pytest.raises(TypeError, match=r"the membrane state has dtype int32"):
        step(init((B, N), jnp.int32), jnp.ones((B, N), jnp.float32))


@pytest.mark.parametrize("name", ["lif", "alif", "ce_lif"])
def test_integer_initial_state_is_rejected_in_multi_step(name):
    x = jnp.ones((T, B, N), jnp.float32)
    if name == "lif":
        call = lambda: neurons.lif(x, decay=0.9, state=neurons.lif_init_state((B, N), jnp.int32))
    elif name == "alif":
        call = lambda: neurons.alif(x, state=neurons.alif_init_state((B, N), jnp.int32))
    else:
        call = lambda: neurons.ce_lif(x, jnp.zeros((T, N)), state=neurons.ce_lif_init_state((B, N), dtype=jnp.int32))
    with pytest.raises(TypeError, match="the membrane state has dtype int32"):
        call()


@pytest.mark.parametrize("te_shape", [(T,), (T, 1), (T, 1, N), (T, N, 1), (T, B)])
def test_ce_lif_rejects_te_that_would_broadcast(te_shape):
    x = jnp.ones((T, B, N), jnp.float32)
    with pytest.raises(ValueError, match=r"te\[t\] must have the shape of the input's trailing \(neuron\) axes"):
        neurons.ce_lif(x, jnp.zeros(te_shape, jnp.float32))


@pytest.mark.parametrize("te_shape", [(T, N), (T, B, N)])
def test_ce_lif_accepts_te_per_neuron_or_per_batch_element(te_shape):
    x = jnp.ones((T, B, N), jnp.float32)
    s, _ = neurons.ce_lif(x, jnp.zeros(te_shape, jnp.float32))
    np.testing.assert_array_equal(np.asarray(s), np.ones((T, B, N)))  # 1 >= θ = 0.3 every step


def test_ce_lif_te_shared_on_purpose_by_broadcasting_equals_per_neuron_copies():
    x = jnp.asarray(np.random.default_rng(0).normal(0.4, 0.5, (T, B, N)), jnp.float32)
    te_shared = jnp.asarray([0.1, -0.2, 0.3], jnp.float32)
    s_b, _ = neurons.ce_lif(x, jnp.broadcast_to(te_shared[:, None], (T, N)))
    s_c, _ = neurons.ce_lif(x, jnp.tile(te_shared[:, None], (1, N)))
    np.testing.assert_array_equal(np.asarray(s_b), np.asarray(s_c))


@pytest.mark.parametrize("te_shape", [(), (1,), (B, 1)])
def test_ce_lif_step_rejects_te_t_that_would_broadcast(te_shape):
    with pytest.raises(ValueError, match=r"te_t must have the shape"):
        neurons.ce_lif_step(neurons.ce_lif_init_state((B, N)), jnp.ones((B, N)), jnp.zeros(te_shape))


# --------------------------------------------------------------------------- state shape and dtype

W0 = jnp.float32(0.0)  # the learnable leak of llc_lif (a) and plif (w)

# every public neuron: name -> (call(x, state), init_state(shape, dtype)); the table must be complete
NEURON_CALLS = {
    "lif": (lambda x, st: neurons.lif(x, decay=0.9, state=st), neurons.lif_init_state),
    "llc_lif": (lambda x, st: neurons.llc_lif(x, W0, state=st), neurons.lif_init_state),
    "if_neuron": (lambda x, st: neurons.if_neuron(x, state=st), neurons.lif_init_state),
    "plif": (lambda x, st: neurons.plif(x, W0, state=st), neurons.lif_init_state),
    "leaky": (lambda x, st: neurons.leaky(x, decay=0.9, state=st), neurons.leaky_init_state),
    "cuba_lif": (lambda x, st: neurons.cuba_lif(x, decay=0.9, syn_decay=0.5, state=st), neurons.cuba_lif_init_state),
    "alif": (lambda x, st: neurons.alif(x, state=st), neurons.alif_init_state),
    "ce_lif": (lambda x, st: neurons.ce_lif(x, jnp.zeros((x.shape[0], x.shape[-1]), x.dtype), state=st),
               lambda shape, dtype=jnp.float32: neurons.ce_lif_init_state(shape, dtype=dtype)),
    "li": (lambda x, st: neurons.li(x, decay=0.9, state=st), neurons.li_init_state),
    "lif_step": (lambda x, st: neurons.lif_step(st, x, decay=0.9), neurons.lif_init_state),
    "llc_lif_step": (lambda x, st: neurons.llc_lif_step(st, x, W0), neurons.lif_init_state),
    "if_step": (lambda x, st: neurons.if_step(st, x), neurons.lif_init_state),
    "plif_step": (lambda x, st: neurons.plif_step(st, x, W0), neurons.lif_init_state),
    "leaky_step": (lambda x, st: neurons.leaky_step(st, x, decay=0.9), neurons.leaky_init_state),
    "cuba_lif_step": (lambda x, st: neurons.cuba_lif_step(st, x, decay=0.9, syn_decay=0.5), neurons.cuba_lif_init_state),
    "alif_step": (lambda x, st: neurons.alif_step(st, x), neurons.alif_init_state),
    "ce_lif_step": (lambda x, st: neurons.ce_lif_step(st, x, jnp.zeros(x.shape[-1:], x.dtype)),
                    lambda shape, dtype=jnp.float32: neurons.ce_lif_init_state(shape, dtype=dtype)),
    "li_step": (lambda x, st: neurons.li_step(st, x, decay=0.9), neurons.li_init_state),
}


def _x(name, dtype=jnp.float32):
    return jnp.ones((B, N) if name.endswith("_step") else (T, B, N), dtype)


def test_every_neuron_of_the_lif_family_and_snntorchs_is_in_the_state_check_table():
    families = ("lif", "llc_lif", "if", "plif", "leaky", "cuba_lif", "alif", "ce_lif", "li")
    expected = {n for f in families for n in (f if f != "if" else "if_neuron", f + "_step")}
    assert expected == set(NEURON_CALLS) and expected <= set(neurons.__all__)


@pytest.mark.parametrize("shape", [(T, B, N), (1, B, N), (B,), (N,), (B, 1), (B, N, 1)])
@pytest.mark.parametrize("name", sorted(NEURON_CALLS))
def test_state_of_another_shape_than_one_input_step_is_refused(name, shape):
    # the case: lif(x [6,3,5], state=LIFState([6,3,5])) gave spikes [6,6,3,5]
    call, init = NEURON_CALLS[name]
    field = init((1,))._fields[0]
    with pytest.raises(ValueError, match=rf"^{name}: state\.{field} has shape \({', '.join(map(str, shape))},?\), "
                                         rf"expected \({B}, {N}\) .*_init_state\(\({B}, {N}\)\)"):
        call(_x(name), init(shape))


@pytest.mark.parametrize("name", sorted(n for n, (_, init) in NEURON_CALLS.items() if len(init((1,))) > 1))
def test_state_field_of_another_shape_is_named(name):
    call, init = NEURON_CALLS[name]
    state = init((B, N))
    bad = state._replace(**{state._fields[-1]: jnp.zeros((T, B, N))})
    with pytest.raises(ValueError, match=rf"^{name}: state\.{state._fields[-1]} has shape \({T}, {B}, {N}\)"):
        call(_x(name), bad)


@pytest.mark.parametrize("name", sorted(NEURON_CALLS))
def test_state_of_another_neuron_is_refused(name):
    call, init = NEURON_CALLS[name]
    other = neurons.alif_init_state((B, N)) if init((1,))._fields != ("v", "eta") else neurons.lif_init_state((B, N))
    with pytest.raises(ValueError, match=rf"^{name}: state must have the fields"):
        call(_x(name), other)


@pytest.mark.parametrize("name", sorted(NEURON_CALLS))
def test_narrower_state_dtype_than_the_input_is_refused(name):
    """docs/design.md: the membrane has the input's dtype or a wider one the caller passes; a float16
    state with float32 input would compute the membrane in float16."""
    call, init = NEURON_CALLS[name]
    with pytest.raises(TypeError, match=rf"^{name}: state\.\w+ has dtype float16, narrower than the input's float32"):
        call(_x(name), init((B, N), jnp.float16))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NEURON_CALLS))
def test_wider_state_dtype_keeps_the_membrane_in_the_state_dtype(name):
    """bfloat16 currents with a float32 state: the documented mixed-precision use, allowed."""
    call, init = NEURON_CALLS[name]
    out = call(_x(name, jnp.bfloat16), init((B, N), jnp.float32))
    state = out[0] if name.endswith("_step") else out[1]
    assert all(leaf.dtype == jnp.float32 and leaf.shape == (B, N) for leaf in state)


def test_state_checks_run_under_jit_and_vmap_at_trace_time():
    import jax

    x = jnp.ones((T, 6, 3, 5), jnp.float32)
    with pytest.raises(ValueError, match=r"lif: state\.v has shape \(6, 3, 5\), expected \(3, 5\)"):
        jax.vmap(lambda xi: neurons.lif(xi, decay=0.5, state=neurons.LIFState(jnp.zeros((6, 3, 5)))), in_axes=1)(x)
    with pytest.raises(ValueError, match=r"lif: state\.v has shape \(6, 3, 5\), expected \(3, 5\)"):
        jax.jit(lambda x: neurons.lif(x, decay=0.5, state=neurons.LIFState(jnp.zeros((6, 3, 5)))))(x[:, 0])


def _registry_kinds():
    from snnjax.layers.spiking import NEURON_KINDS

    return sorted(NEURON_KINDS)


@pytest.mark.slow
@pytest.mark.parametrize("kind_name", _registry_kinds())
def test_every_registered_kind_refuses_a_state_of_another_rank_in_the_layer_and_its_step(kind_name):
    """Through the registry: ``SpikingNeuron(kind)`` with a carried state and ``step_function``."""
    import jax

    from snnjax.layers.spiking import NEURON_KINDS, NeuronConfig, SpikingNeuron, step_function

    cfg = NeuronConfig(kind=kind_name)
    kind = NEURON_KINDS.lookup(kind_name)
    x = jnp.ones((T, B, N), jnp.float32)
    te = jnp.zeros((T, N), jnp.float32) if kind.needs_te else None
    layer = SpikingNeuron(cfg)
    variables = layer.init(jax.random.PRNGKey(0), x, te=te)
    params = variables.get("params", {})
    bad = kind.init_state(cfg, params, (T, B, N), jnp.float32)
    with pytest.raises(ValueError, match=rf"state\.\w+ has shape \({T}, {B}, {N}\), expected \({B}, {N}\)"):
        layer.apply(variables, x, bad, te=te)
    init_state, step = step_function(cfg, params=params)
    with pytest.raises(ValueError, match=rf"_step: state\.\w+ has shape \({T}, {B}, {N}\), expected \({B}, {N}\)"):
        step(init_state((T, B, N), jnp.float32), x[0], None if te is None else te[0])
    with pytest.raises(TypeError, match=r"narrower than the input's float32"):
        layer.apply(variables, x, kind.init_state(cfg, params, (B, N), jnp.float16), te=te)
