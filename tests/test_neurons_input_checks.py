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
