"""The parallel (associative-scan) neurons equal their sequential forms; PSN equals SpikingJelly's
definition written in NumPy; gradients equal the sequential ones, hand-derived formulas and finite
differences of the smooth relaxation; jit and vmap."""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import neurons, surrogate, testing


# --- NumPy references: explicit loops over time, float64 --------------------------------------
def np_li(x, k, v0, decay_input=False):
    """v[t] = k·v[t-1] + x[t]  (or k·v[t-1] + (1-k)·x[t])."""
    v, out = v0, []
    for t in range(x.shape[0]):
        v = k * v + ((1 - k) * x[t] if decay_input else x[t])
        out.append(v)
    return np.stack(out), v


def np_lif_no_reset(x, k, v_th, v0, decay_input=False):
    """h[t] = k·h[t-1] + x[t]; s[t] = h[t] >= v_th; no reset."""
    h_seq, h = np_li(x, k, v0, decay_input)
    return (h_seq >= v_th).astype(np.float64), h_seq, h


def np_psn(x, w, b):
    """SpikingJelly PSN.forward: H = W·X + B over the flattened neurons, S = H >= 0."""
    t = x.shape[0]
    h = w @ x.reshape(t, -1) + b[:, None]
    return (h >= 0).astype(np.float64).reshape(x.shape), h.reshape(x.shape)


def _case(seed):
    """A random T (1 to 300), neuron shape, leak (scalar or per channel), decay_input and state."""
    rng = np.random.default_rng(seed)
    t = int(rng.choice([1, 2, int(rng.integers(3, 300))]))
    shape = tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(1, 3)))
    per_channel = bool(rng.integers(2))
    k = rng.uniform(0.3, 0.999, shape[-1:]) if per_channel else float(rng.uniform(0.3, 0.999))
    decay_input = bool(rng.integers(2))
    x = rng.normal(0.3, 1.0, (t,) + shape)
    v0 = rng.normal(0.0, 1.0, shape)
    return x, k, decay_input, v0


SEEDS = range(8)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_li_parallel_equals_sequential_and_numpy_float64(seed):
    x, k, decay_input, v0 = _case(seed)
    ref, ref_v = np_li(x, k, v0, decay_input)
    with jax.enable_x64(True):
        kj = jnp.asarray(k)
        v_seq, state = neurons.li_parallel(jnp.asarray(x), decay=kj, state=neurons.LIState(jnp.asarray(v0)),
                                           decay_input=decay_input)
        seq, seq_state = neurons.li(jnp.asarray(x), decay=kj, state=neurons.LIState(jnp.asarray(v0)),
                                    decay_input=decay_input)
    chex.assert_shape(v_seq, x.shape)
    scale = max(1.0, np.abs(ref).max())
    np.testing.assert_allclose(np.asarray(v_seq), np.asarray(seq), rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(np.asarray(v_seq), ref, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(np.asarray(state.v), ref_v, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(np.asarray(state.v), np.asarray(seq_state.v), rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_lif_no_reset_equals_sequential_and_numpy_float64(seed):
    x, k, decay_input, v0 = _case(seed)
    v_th = np.random.default_rng(100 + seed).uniform(0.2, 1.0, x.shape[-1:])  # one threshold per channel
    ref_s, ref_h, ref_v = np_lif_no_reset(x, k, v_th, v0, decay_input)
    with jax.enable_x64(True):
        kw = dict(decay=jnp.asarray(k), v_th=jnp.asarray(v_th), state=neurons.LIFState(jnp.asarray(v0)),
                  decay_input=decay_input)
        s, state = neurons.lif_no_reset(jnp.asarray(x), **kw)
        s_scan, state_scan = neurons.lif_no_reset(jnp.asarray(x), impl="scan", **kw)
    chex.assert_type(s, jnp.float64)
    decided = np.abs(ref_h - v_th) > 1e-9  # a membrane within rounding of the threshold may go either way
    assert decided.mean() > 0.99
    np.testing.assert_array_equal(np.asarray(s)[decided], ref_s[decided])
    np.testing.assert_array_equal(np.asarray(s_scan)[decided], ref_s[decided])
    scale = max(1.0, np.abs(ref_h).max())
    np.testing.assert_allclose(np.asarray(state.v), ref_v, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(np.asarray(state.v), np.asarray(state_scan.v), rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.slow
@pytest.mark.parametrize("num_steps", [784, 3000])
def test_float32_within_rounding_at_long_sequences(num_steps):
    rng = np.random.default_rng(num_steps)
    x = jnp.asarray(rng.normal(0.2, 1.0, (num_steps, 4, 8)), jnp.float32)
    k = jnp.asarray(rng.uniform(0.5, 0.99, (8,)), jnp.float32)
    v_par, _ = neurons.li_parallel(x, decay=k)
    v_seq, _ = neurons.li(x, decay=k)
    scale = float(jnp.max(jnp.abs(v_seq)))
    # float32 eps is 6e-8; both forms round differently, each step adding a few eps of |v|
    np.testing.assert_allclose(np.asarray(v_par), np.asarray(v_seq), rtol=1e-5, atol=2e-6 * scale)
    s_par, st_par = neurons.lif_no_reset(x, decay=k, v_th=2.0)
    s_seq, st_seq = neurons.lif_no_reset(x, decay=k, v_th=2.0, impl="scan")
    decided = np.abs(np.asarray(v_seq) - 2.0) > 1e-4 * scale
    np.testing.assert_array_equal(np.asarray(s_par)[decided], np.asarray(s_seq)[decided])
    np.testing.assert_allclose(np.asarray(st_par.v), np.asarray(st_seq.v), rtol=1e-5, atol=2e-6 * scale)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_state_carries_across_chunks(seed):
    x, k, decay_input, v0 = _case(seed + 20)
    x = np.concatenate([x, x[::-1]])  # at least 2 steps
    cut = int(np.random.default_rng(seed).integers(1, x.shape[0]))
    with jax.enable_x64(True):
        kw = dict(decay=jnp.asarray(k), decay_input=decay_input)
        whole, st = neurons.li_parallel(jnp.asarray(x), state=neurons.LIState(jnp.asarray(v0)), **kw)
        a, st_a = neurons.li_parallel(jnp.asarray(x[:cut]), state=neurons.LIState(jnp.asarray(v0)), **kw)
        b, st_b = neurons.li_parallel(jnp.asarray(x[cut:]), state=st_a, **kw)
        np.testing.assert_allclose(np.concatenate([a, b]), np.asarray(whole), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(st_b.v), np.asarray(st.v), rtol=1e-12, atol=1e-12)
        s, st = neurons.lif_no_reset(jnp.asarray(x), v_th=0.4, **kw)
        s_a, st_a = neurons.lif_no_reset(jnp.asarray(x[:cut]), v_th=0.4, **kw)
        s_b, st_b = neurons.lif_no_reset(jnp.asarray(x[cut:]), v_th=0.4, state=st_a, **kw)
        np.testing.assert_array_equal(np.concatenate([s_a, s_b]), np.asarray(s))
        np.testing.assert_allclose(np.asarray(st_b.v), np.asarray(st.v), rtol=1e-12, atol=1e-12)


def _grads(f, x, k, v_th, v0, w):
    """∂/∂(x, k, v_th, v0) of Σ w·s + Σ final state."""
    def loss(x, k, v_th, v0):
        s, state = f(x, k, v_th, v0)
        return jnp.sum(s * w) + jnp.sum(state.v)
    return jax.grad(loss, argnums=(0, 1, 2, 3))(x, k, v_th, v0)


@pytest.mark.slow
@pytest.mark.parametrize("decay_input", [False, True])
@pytest.mark.parametrize("spike_fn", [surrogate.atan(), surrogate.bpsa()], ids=["atan", "bpsa"])
def test_gradients_equal_the_sequential_form(decay_input, spike_fn):
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        x = jnp.asarray(rng.normal(0.3, 0.8, (40, 3, 5)))
        w = jnp.asarray(rng.normal(size=(40, 3, 5)))
        k, v_th, v0 = jnp.asarray(rng.uniform(0.5, 0.95, (5,))), jnp.float64(0.6), jnp.asarray(rng.normal(size=(3, 5)))

        def form(impl):
            return lambda x, k, v_th, v0: neurons.lif_no_reset(x, decay=k, v_th=v_th, spike_fn=spike_fn,
                                                               state=neurons.LIFState(v0), decay_input=decay_input,
                                                               impl=impl)
        chex.assert_trees_all_close(_grads(form("associative"), x, k, v_th, v0, w),
                                    _grads(form("scan"), x, k, v_th, v0, w), rtol=1e-10, atol=1e-12)
        li_par = lambda x, k, v_th, v0: neurons.li_parallel(x, decay=k, state=neurons.LIState(v0), decay_input=decay_input)  # noqa: E731
        li_seq = lambda x, k, v_th, v0: neurons.li(x, decay=k, state=neurons.LIState(v0), decay_input=decay_input)  # noqa: E731
        chex.assert_trees_all_close(_grads(li_par, x, k, v_th, v0, w)[:2], _grads(li_seq, x, k, v_th, v0, w)[:2],
                                    rtol=1e-10, atol=1e-12)
    # float32: the same within rounding
    x32, w32, k32 = x.astype(jnp.float32), w.astype(jnp.float32), k.astype(jnp.float32)
    g_par = jax.grad(lambda x: jnp.sum(neurons.li_parallel(x, decay=k32)[0] * w32))(x32)
    g_seq = jax.grad(lambda x: jnp.sum(neurons.li(x, decay=k32)[0] * w32))(x32)
    np.testing.assert_allclose(np.asarray(g_par), np.asarray(g_seq), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_li_gradient_by_hand():
    """L = Σ_t c_t v_t with v_t = Σ_{t'≤t} k^{t-t'} x_t' + k^t v_0, so
    ∂L/∂x_t' = Σ_{t≥t'} c_t k^{t-t'}, ∂L/∂v_0 = Σ_t c_t k^t, ∂L/∂k = Σ_t c_t Σ_{t'} (t-t') k^{t-t'-1} x_t' + t k^{t-1} v_0."""
    rng = np.random.default_rng(5)
    k, t = 0.8, 12
    x, c, v0 = rng.normal(size=t), rng.normal(size=t), 0.7
    steps = np.arange(1, t + 1)  # v_t after t steps (1-based) carries k^t v_0
    dx = np.array([sum(c[j] * k ** (j - i) for j in range(i, t)) for i in range(t)])
    dv0 = np.sum(c * k ** steps)
    dk = sum(c[j] * (sum((j - i) * k ** (j - i - 1) * x[i] for i in range(j)) + steps[j] * k ** (steps[j] - 1) * v0)
             for j in range(t))
    with jax.enable_x64(True):
        loss = lambda x, k, v0: jnp.sum(jnp.asarray(c) * neurons.li_parallel(x, decay=k, state=neurons.LIState(v0))[0])  # noqa: E731
        gx, gk, gv0 = jax.grad(loss, argnums=(0, 1, 2))(jnp.asarray(x), jnp.float64(k), jnp.float64(v0))
    np.testing.assert_allclose(np.asarray(gx), dx, rtol=1e-12)
    np.testing.assert_allclose(float(gk), dk, rtol=1e-12)
    np.testing.assert_allclose(float(gv0), dv0, rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("spike_fn", [surrogate.sigmoid(4.0), surrogate.erf(2.0)], ids=["sigmoid", "erf"])
def test_lif_no_reset_gradient_matches_finite_differences_of_its_relaxation(spike_fn):
    x = np.random.default_rng(7).normal(0.4, 0.6, (6, 2, 3))
    testing.assert_neuron_grad_matches_relaxation(
        lambda st, x_t, fn, p: neurons.lif_no_reset_step(st, x_t, decay=p[0], v_th=p[1], spike_fn=fn, decay_input=True),
        x, neurons.lif_init_state((2, 3)), spike_fn, params=(0.7, jnp.full((3,), 0.5)),
        sequence=lambda x, st, fn, p: neurons.lif_no_reset(x, decay=p[0], v_th=p[1], spike_fn=fn, state=st,
                                                           decay_input=True))


@pytest.mark.slow
def test_jit_and_vmap():
    rng = np.random.default_rng(9)
    x = jnp.asarray(rng.normal(0.3, 1.0, (30, 4, 6)), jnp.float32)
    for f in (lambda x, k: neurons.li_parallel(x, decay=k), lambda x, k: neurons.lif_no_reset(x, decay=k, v_th=0.5)):
        out = f(x, jnp.float32(0.9))
        # jit fuses the scan's multiply-adds differently: equal within float32 rounding
        chex.assert_trees_all_close(jax.jit(f)(x, jnp.float32(0.9)), out, rtol=1e-5, atol=1e-6)
        # vmap over leaks (a sweep) and over a batch axis placed after time
        ks = jnp.asarray([0.5, 0.9, 0.99], jnp.float32)
        swept = jax.vmap(f, in_axes=(None, 0))(x, ks)
        for i in range(3):
            chex.assert_trees_all_close(jax.tree.map(lambda a, i=i: a[i], swept), f(x, ks[i]), rtol=1e-5, atol=1e-6)
        xs = jnp.stack([x, 2 * x], axis=1)
        out_v = jax.vmap(lambda x: f(x, jnp.float32(0.9))[0], in_axes=1, out_axes=1)(xs)
        chex.assert_trees_all_close(out_v[:, 1], f(2 * x, jnp.float32(0.9))[0], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_psn_equals_spikingjelly_definition_in_numpy():
    rng = np.random.default_rng(11)
    t = 6
    x = rng.normal(0.5, 1.0, (t, 3, 2, 4))
    w, b = rng.uniform(-0.5, 0.5, (t, t)), rng.normal(-1.0, 0.3, t)
    ref_s, ref_h = np_psn(x, w, b)
    with jax.enable_x64(True):
        s, state = neurons.psn(jnp.asarray(x), jnp.asarray(w), jnp.asarray(b))
        assert state is None
        decided = np.abs(ref_h) > 1e-9
        np.testing.assert_array_equal(np.asarray(s)[decided], ref_s[decided])
        # ∂(Σ c·s)/∂W[t, t'] = Σ_n c[t,n] g'(h[t,n]) x[t',n]; ∂/∂b[t] = Σ_n c[t,n] g'(h[t,n]); ATan(α=2):
        # g'(h) = 1 / (1 + (π h)²)
        c = rng.normal(size=x.shape)
        gw, gb, gx = jax.grad(lambda w, b, x: jnp.sum(jnp.asarray(c) * neurons.psn(x, w, b)[0]), argnums=(0, 1, 2))(
            jnp.asarray(w), jnp.asarray(b), jnp.asarray(x))
    g = (c / (1 + (np.pi * ref_h) ** 2)).reshape(t, -1)
    np.testing.assert_allclose(np.asarray(gw), g @ x.reshape(t, -1).T, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gb), g.sum(1), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gx), (w.T @ g).reshape(x.shape), rtol=1e-12, atol=1e-15)
    # float32 and jit: the same spikes where the membrane is not within rounding of 0
    s32, _ = jax.jit(neurons.psn)(jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32))
    decided = np.abs(ref_h) > 1e-5
    np.testing.assert_array_equal(np.asarray(s32)[decided], ref_s[decided])


def test_psn_init_and_shape_check(key):
    w, b = neurons.psn_init(key, 16)
    chex.assert_shape((w, b), ((16, 16), (16,)))
    assert float(jnp.max(jnp.abs(w))) <= 0.25 and float(jnp.std(w)) > 0.1  # U(±1/√16)
    np.testing.assert_array_equal(np.asarray(b), -np.ones(16))
    with pytest.raises(ValueError, match=r"T = 8 steps, so weight must be \[8, 8\]"):
        neurons.psn(jnp.ones((8, 2)), w, b)


def test_lif_no_reset_refuses_an_unknown_impl():
    with pytest.raises(ValueError, match="impl must be one of"):
        neurons.lif_no_reset(jnp.ones((3, 2)), decay=0.5, impl="pallas")


def test_bench_prints_one_json_line_per_case(capsys):
    from bench import parallel_neurons

    assert parallel_neurons.main(["--T", "5", "--batch", "2", "--neurons", "3", "--repeats", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    cases = [(r["neuron"], r["form"], r["pass"]) for r in lines if "form" in r]
    assert sorted(cases) == sorted((n, f, p) for n in ("li", "lif_no_reset") for f in ("scan", "associative")
                                   for p in ("forward", "forward+backward"))
    assert all(r["T"] == 5 for r in lines if "form" in r)


@pytest.mark.slow
def test_lif_no_reset_kind_runs_in_a_layer_and_carries_its_state(key):
    from snnjax.layers import NeuronConfig, SpikingNeuron

    layer = SpikingNeuron(NeuronConfig(kind="lif_no_reset", decay=0.8, v_th=0.5, surrogate="atan", decay_input=True))
    x = jnp.asarray(np.random.default_rng(13).normal(0.3, 1.0, (20, 2, 4)), jnp.float32)
    variables = layer.init(key, x)
    s, state = layer.apply(variables, x, return_state=True)
    ref, ref_state = neurons.lif_no_reset(x, decay=0.8, v_th=0.5, spike_fn=surrogate.atan(), decay_input=True, impl="scan")
    np.testing.assert_array_equal(np.asarray(s), np.asarray(ref))
    np.testing.assert_allclose(np.asarray(state.v), np.asarray(ref_state.v), rtol=1e-5, atol=1e-6)
    s1, st1 = layer.apply(variables, x[:7], return_state=True)
    s2, st2 = layer.apply(variables, x[7:], st1, return_state=True)
    np.testing.assert_array_equal(np.concatenate([s1, s2]), np.asarray(s))
    with pytest.raises(ValueError, match="bpta_alpha"):
        NeuronConfig(kind="lif_no_reset", bpta_alpha=0.2)


@pytest.mark.slow
def test_affine_scan_backward_pass_equals_the_sequential_one_for_time_varying_maps():
    """The custom VJP (the adjoint recurrence as a reverse scan) against autodiff of a lax.scan of
    h_t = a_t h_{t-1} + b_t, with a different a_t at every step."""
    from snnjax.neurons.parallel import affine_scan

    rng = np.random.default_rng(17)
    with jax.enable_x64(True):
        a, b, c = (jnp.asarray(rng.uniform(-1.0, 1.0, (37, 2, 3))) for _ in range(3))

        def sequential(a, b):
            return jax.lax.scan(lambda h, ab: (ab[0] * h + ab[1],) * 2, jnp.zeros((2, 3)), (a, b))[1]

        np.testing.assert_allclose(np.asarray(affine_scan(a, b)), np.asarray(sequential(a, b)), rtol=1e-12, atol=1e-14)
        grads = jax.grad(lambda a, b: jnp.sum(c * affine_scan(a, b)), argnums=(0, 1))(a, b)
        expected = jax.grad(lambda a, b: jnp.sum(c * sequential(a, b)), argnums=(0, 1))(a, b)
        chex.assert_trees_all_close(grads, expected, rtol=1e-12, atol=1e-14)


def test_a_state_of_the_wrong_shape_is_refused_by_name():
    from snnjax.neurons import parallel

    x = jnp.zeros((6, 3, 5))
    bad_lif, bad_li = neurons.LIFState(jnp.zeros((6, 3, 5))), neurons.LIState(jnp.zeros((6, 3, 5)))
    with pytest.raises(ValueError, match=r"lif_no_reset: state.v has shape \(6, 3, 5\), expected \(3, 5\)"):
        parallel.lif_no_reset(x, decay=0.5, state=bad_lif)
    with pytest.raises(ValueError, match=r"lif_no_reset_step: state.v has shape"):
        parallel.lif_no_reset_step(bad_lif, x[0], decay=0.5)
    with pytest.raises(ValueError, match=r"li_parallel: state.v has shape"):
        parallel.li_parallel(x, decay=0.5, state=bad_li)
