"""Issue 37: the faster ``neurons.leaky``, ``neurons.li`` and ``surrogate.strict`` compute what they
computed before, in float64: outputs, final states and gradients with respect to the input, the
decay (scalar and per neuron), the threshold, a surrogate parameter and the carried state.

The reference is a frozen copy of the implementation of 2026-12-07 (commit 8f928a7), written out
below so that it does not change with the library: a leaky step that carries the spike, scanned over
time, and the strict wrapper ``s + stop_gradient([u > v_th] - s)``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import neurons, surrogate

T, B, N = 9, 3, 5


# --- the frozen reference (snnjax at 8f928a7) ------------------------------------------------------

def _as_dtype(value, like):
    value = jnp.asarray(value).astype(like.dtype)
    return value if value.ndim == 0 else jnp.broadcast_to(value, like.shape)


def _ref_strict(spike_fn):
    def call(u, v_th=0.0):
        s = spike_fn(u, v_th)
        return s + jax.lax.stop_gradient((u > v_th).astype(s.dtype) - s)
    return call


def _ref_leaky(x_seq, *, decay, v_th, spike_fn, state, reset, detach_reset):
    def step(carry, x_t):
        mem, spike = carry
        s_prev = (jax.lax.stop_gradient(spike) if detach_reset else spike).astype(mem.dtype)
        if reset == "hard":
            carried, subtracted = mem * (1 - s_prev), jnp.zeros_like(mem)
        else:
            carried, subtracted = mem, s_prev * _as_dtype(v_th, mem)
        m = _as_dtype(decay, carried) * carried + x_t.astype(carried.dtype) - subtracted
        s = spike_fn(m, _as_dtype(v_th, m))
        return (m, s), s.astype(x_t.dtype)

    if state is None:
        state = (jnp.zeros(x_seq.shape[1:], x_seq.dtype),) * 2
    (mem, spike), s_seq = jax.lax.scan(step, tuple(state), x_seq)
    return s_seq, (mem, spike)


def _ref_li(x_seq, *, decay, state, decay_input):
    def step(v, x_t):
        k = _as_dtype(decay, v)
        x_t = x_t.astype(v.dtype)
        v = k * v + (1 - k) * x_t if decay_input else k * v + x_t
        return v, v

    v0 = jnp.zeros(x_seq.shape[1:], x_seq.dtype) if state is None else state[0]
    v, v_seq = jax.lax.scan(step, v0, x_seq)
    return v_seq, (v,)


# --- the comparison ----------------------------------------------------------------------------

def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.6, 0.8, (T, B, N))
    state = (rng.normal(0.5, 0.6, (B, N)), (rng.random((B, N)) < 0.4).astype(np.float64))
    return x, state


def _spike_fns():
    arctan = lambda x, k: jnp.arctan(k * np.pi * x) / (k * np.pi * np.pi) + 0.5  # Spyx's, as the SHD bench
    return {
        "strict_custom": (lambda k: surrogate.strict(surrogate.from_primitive(arctan, k)),
                          lambda k: _ref_strict(surrogate.from_primitive(arctan, k))),
        "strict_atan": (lambda a: surrogate.strict(surrogate.ATan(a)), lambda a: _ref_strict(surrogate.ATan(a))),
        "sigmoid": (lambda a: surrogate.Sigmoid(a), lambda a: surrogate.Sigmoid(a)),
        "strict_bpsa_code": (lambda a: surrogate.strict(surrogate.BPSACode()),
                             lambda a: _ref_strict(surrogate.BPSACode())),
    }


def _assert_same(new, ref):
    # The arithmetic is the same but for the order of one addition in leaky's membrane, (βc - r) + x
    # against (βc + x) - r; 1e-13 leaves room for that and for XLA's fusion choices.
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(ref)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-13, atol=1e-13)


@pytest.mark.slow
@pytest.mark.parametrize("spike", sorted(_spike_fns()))
@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("per_neuron", [False, True])
@pytest.mark.parametrize("carried", [False, True])
def test_leaky_outputs_and_gradients_equal_the_frozen_implementation(spike, reset, per_neuron, carried):
    new_fn, ref_fn = _spike_fns()[spike]
    x_np, state_np = _inputs()
    with jax.enable_x64(True):
        x = jnp.asarray(x_np)
        decay = jnp.linspace(0.3, 0.95, N) if per_neuron else jnp.float64(0.8)
        state = tuple(jnp.asarray(a) for a in state_np) if carried else None
        w = jnp.asarray(np.random.default_rng(1).normal(size=(T, B, N)))
        for detach in (False, True):
            def loss(run, make):
                def f(x, decay, v_th, param, state):
                    s_seq, st = run(x, decay=decay, v_th=v_th, spike_fn=make(param), reset=reset,
                                    state=st_in(state), detach_reset=detach)
                    return jnp.sum(s_seq * w) + jnp.sum(st[0] * w[0]) + 0.5 * jnp.sum(st[1] * w[1])
                return f

            st_in = lambda s: None if s is None else neurons.LeakyState(*s)
            new = loss(neurons.leaky, new_fn)
            ref = loss(lambda x, state, **kw: _ref_leaky(x, state=state, **kw), ref_fn)
            args = (x, decay, jnp.float64(0.9), jnp.float64(2.0), state)
            argnums = (0, 1, 2, 3, 4) if carried else (0, 1, 2, 3)
            s_new, st_new = neurons.leaky(x, decay=decay, v_th=0.9, spike_fn=new_fn(jnp.float64(2.0)), reset=reset,
                                          state=st_in(state), detach_reset=detach)
            s_ref, st_ref = _ref_leaky(x, decay=decay, v_th=0.9, spike_fn=ref_fn(jnp.float64(2.0)), reset=reset,
                                       state=state, detach_reset=detach)
            assert 0 < float(s_ref.mean()) < 1  # the comparison sees spikes and silences
            _assert_same((s_new, tuple(st_new)), (s_ref, st_ref))
            g_new = jax.jit(jax.grad(new, argnums))(*args)
            g_ref = jax.jit(jax.grad(ref, argnums))(*args)
            _assert_same(g_new, g_ref)
            if carried and reset == "soft" and not detach:
                assert float(jnp.abs(g_ref[4][1]).sum()) > 0  # the carried spike gets a gradient


@pytest.mark.parametrize("per_neuron", [False, True])
@pytest.mark.parametrize("carried", [False, True])
@pytest.mark.parametrize("decay_input", [False, True])
def test_li_outputs_and_gradients_equal_the_frozen_implementation(per_neuron, carried, decay_input):
    x_np, state_np = _inputs(2)
    with jax.enable_x64(True):
        x = jnp.asarray(x_np)
        decay = jnp.linspace(0.3, 0.95, N) if per_neuron else jnp.float64(0.8)
        state = (jnp.asarray(state_np[0]),) if carried else None
        w = jnp.asarray(np.random.default_rng(3).normal(size=(T, B, N)))

        def loss(run):
            def f(x, decay, state):
                v_seq, st = run(x, decay, state)
                return jnp.sum(v_seq * w) + jnp.sum(st[0] * w[0])
            return f

        new = loss(lambda x, d, s: neurons.li(x, decay=d, decay_input=decay_input,
                                              state=None if s is None else neurons.LIState(*s)))
        ref = loss(lambda x, d, s: _ref_li(x, decay=d, state=s, decay_input=decay_input))
        argnums = (0, 1, 2) if carried else (0, 1)
        _assert_same(jax.grad(new, argnums)(x, decay, state), jax.grad(ref, argnums)(x, decay, state))
        _assert_same(new(x, decay, state), ref(x, decay, state))


@pytest.mark.slow
def test_strict_equals_the_frozen_wrapper_under_vmap_and_for_its_parameter():
    with jax.enable_x64(True):
        u = jnp.linspace(-1.0, 2.0, 13)  # holds u == v_th exactly (0.5)
        for make in (surrogate.Sigmoid, surrogate.ATan, surrogate.Boxcar, surrogate.FastSigmoid):
            new = lambda a, u: surrogate.strict(make(a))(u, 0.5)
            ref = lambda a, u: _ref_strict(make(a))(u, 0.5)
            np.testing.assert_array_equal(new(2.0, u), ref(2.0, u))
            assert float(new(2.0, jnp.float64(0.5))) == 0.0
            for argnums in (0, 1):
                g = lambda f: jax.grad(lambda a, u: jnp.sum(f(a, u) * u), argnums)(jnp.float64(2.0), u)
                np.testing.assert_array_equal(g(new), g(ref))
            alphas = jnp.array([1.0, 2.0, 4.0])
            np.testing.assert_array_equal(jax.vmap(jax.grad(lambda a: jnp.sum(new(a, u))))(alphas),
                                          jax.vmap(jax.grad(lambda a: jnp.sum(ref(a, u))))(alphas))


@pytest.mark.parametrize("spike", sorted(_spike_fns()))
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_leakys_state_is_rebuilt_exactly_from_its_membrane(spike, reset):
    """The returned state's spike is ``spike_fn(mem, v_th)`` of its membrane, bit for bit, so a loop
    over chunks may carry the membrane alone (the SHD bench's chunked net does) and rebuild the state."""
    make = _spike_fns()[spike][0]
    x_np, state_np = _inputs(2)
    x = jnp.asarray(x_np, jnp.float32)
    spike_fn = make(jnp.float32(2.0))
    s_seq, state = neurons.leaky(x, decay=0.8, v_th=0.9, spike_fn=spike_fn, reset=reset,
                                 state=neurons.LeakyState(*(jnp.asarray(a, jnp.float32) for a in state_np)))
    np.testing.assert_array_equal(np.asarray(state.spike), np.asarray(spike_fn(state.mem, jnp.float32(0.9))))
    np.testing.assert_array_equal(np.asarray(state.spike), np.asarray(s_seq[-1]))


def test_leakys_hand_written_gradient_takes_any_spike_function_and_vmaps_over_its_parameter():
    """The custom VJP splits the spike function into its float leaves (differentiated, traceable) and
    the rest: a plain Python function works, and a surrogate parameter swept by ``vmap`` gets the
    frozen scan's gradient at each value."""
    x_np, state_np = _inputs(4)
    with jax.enable_x64(True):
        x = jnp.asarray(x_np)
        w = jnp.asarray(np.random.default_rng(5).normal(size=(T, B, N)))
        plain = lambda u, v_th=0.0: surrogate.Sigmoid(3.0)(u, v_th)  # noqa: E731 (a function, not a pytree)

        def loss(run, spike_fn):
            return lambda x: jnp.sum(run(x, decay=0.7, v_th=0.9, spike_fn=spike_fn, reset="soft", state=None,
                                         detach_reset=False)[0] * w)

        ref_run = lambda x, **kw: _ref_leaky(x, **kw)  # noqa: E731
        _assert_same(jax.grad(loss(neurons.leaky, plain))(x), jax.grad(loss(ref_run, plain))(x))

        def by_alpha(run):
            return jax.vmap(jax.grad(lambda a: loss(run, surrogate.ATan(a))(x)))(jnp.array([1.0, 2.0, 4.0]))

        new, ref = by_alpha(neurons.leaky), by_alpha(ref_run)
        assert float(jnp.abs(ref).min()) > 0
        _assert_same(new, ref)


def _ref_lif(x_seq, *, decay, v_th, spike_fn, state, reset, detach_reset, bpta_alpha, decay_input):
    """LIF as ``lif_step`` computed it on 2026-12-08 (commit 88a6c40), scanned over time."""
    def step(v, x_t):
        k = _as_dtype(decay, v)
        x_t = x_t.astype(v.dtype)
        h = k * v + (1 - k) * x_t if decay_input else k * v + x_t
        s = spike_fn(h, _as_dtype(v_th, h))
        r = jax.lax.stop_gradient(s) if detach_reset else s
        v = h * (1 - r) if reset == "hard" else h - r * _as_dtype(v_th, h)
        v = v + _as_dtype(bpta_alpha, v) * (s - jax.lax.stop_gradient(s))
        return v, s.astype(x_t.dtype)

    v0 = jnp.zeros(x_seq.shape[1:], x_seq.dtype) if state is None else state[0]
    v, s_seq = jax.lax.scan(step, v0, x_seq)
    return s_seq, (v,)


def _lif_spike_fns():
    return {**_spike_fns(), "bpsa": (lambda a: surrogate.BPSA(), lambda a: surrogate.BPSA())}


@pytest.mark.slow
@pytest.mark.parametrize("spike", sorted(_lif_spike_fns()))
@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("per_neuron, decay_input", [(False, True), (True, False)])
def test_lifs_hand_written_adjoint_equals_the_frozen_step_scan(spike, reset, per_neuron, decay_input):
    """``lif`` with ``unroll < T`` (the adjoint of ``recursion.scan_membranes``) against the frozen
    step scan, in float64: outputs and final state, and gradients to the input, the leak, the
    threshold, the surrogate's parameter, BPTA's α and the carried membrane; with and without a
    detached reset and BPTA; ``unroll = T`` (the step scan itself) too. Per-neuron leaks are tested
    with ``decay_input=False``, a scalar leak with ``decay_input=True`` (the seed nets' form)."""
    new_fn, ref_fn = _lif_spike_fns()[spike]
    x_np, state_np = _inputs(6)
    with jax.enable_x64(True):
        x = jnp.asarray(x_np)
        decay = jnp.linspace(0.3, 0.95, N) if per_neuron else jnp.float64(0.8)
        state = (jnp.asarray(state_np[0]),)
        w = jnp.asarray(np.random.default_rng(7).normal(size=(T, B, N)))
        for detach in (False, True):
            for alpha in (0.0, 0.5):
                def loss(run, make):
                    def f(x, decay, v_th, param, alpha, v0):
                        s_seq, st = run(x, decay=decay, v_th=v_th, spike_fn=make(param), state=(v0,), reset=reset,
                                        detach_reset=detach, bpta_alpha=alpha, decay_input=decay_input)
                        return jnp.sum(s_seq * w) + jnp.sum(st[0] * w[0])
                    return f

                ref = loss(_ref_lif, ref_fn)
                args = (x, decay, jnp.float64(0.9), jnp.float64(2.0), jnp.float64(alpha), state[0])
                s_ref, st_ref = _ref_lif(x, decay=decay, v_th=0.9, spike_fn=ref_fn(jnp.float64(2.0)), state=state,
                                         reset=reset, detach_reset=detach, bpta_alpha=alpha, decay_input=decay_input)
                assert 0 < float(s_ref.mean()) < 1
                g_ref = jax.jit(jax.grad(ref, range(6)))(*args)
                for unroll in (1, T):
                    def run(x, state, unroll=unroll, **kw):
                        return neurons.lif(x, state=neurons.LIFState(*state), unroll=unroll, **kw)
                    s_new, st_new = run(x, decay=decay, v_th=0.9, spike_fn=new_fn(jnp.float64(2.0)), state=state,
                                        reset=reset, detach_reset=detach, bpta_alpha=alpha, decay_input=decay_input)
                    # The same operations, but k·v + x may round once (a fused multiply-add) or twice.
                    _assert_same((s_new, st_new.v), (s_ref, st_ref[0]))
                    _assert_same(jax.jit(jax.grad(loss(run, new_fn), range(6)))(*args), g_ref)
