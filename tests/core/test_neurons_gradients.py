"""Gradients through the neurons: BPSA and BPTA worked by hand, and finite differences.

The expectations are written out from the papers' equations; none is computed with snnjax.
"""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import neurons, surrogate


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# --- BPSA (Eq. 9) and BPTA (Eq. 10), a 3-step example worked by hand -------------------------------
# λ = 0.9, u_th = 0.5, hard reset, x = [0.7, 0.2, 0.6], L = 1·o[0] + 2·o[1] + 3·o[2].
# Forward: u[0] = 0.7 → o = 1, v = 0;  u[1] = 0.2 → o = 0, v = 0.2;  u[2] = 0.9·0.2 + 0.6 = 0.78 → o = 1.
# BPSA: ∂o/∂u = 1/u where o = 1, else 0.  BPTA adds a path v[t] += α(o[t] - sg(o[t])), so
# ∂u[t+1]/∂o[t] gains λα.
X3 = np.array([0.7, 0.2, 0.6])
C3 = np.array([1.0, 2.0, 3.0])


def _hand_bpsa(alpha, detach):
    dl_du2 = 3 / 0.78
    # u[1] = 0.2 did not fire: o[1] contributes nothing; the membrane path ∂u2/∂u1 = λ(1 - o[1]) = 0.9.
    dl_du1 = 0.0 + 0.9 * dl_du2
    # u[0] fired: ∂o0/∂u0 = 1/0.7.  Paths from o[0] into u[1]: BPTA λα, and (not detached) the
    # reset v0 = u0(1 - o0) gives ∂v0/∂o0 = -u0 = -0.7, times λ.  ∂v0/∂u0 = 1 - o0 = 0.
    do0 = C3[0] + 0.9 * (alpha + (0.0 if detach else -0.7)) * dl_du1
    dl_du0 = do0 / 0.7
    # ∂u[t]/∂x[t] = 1 in the text form.
    return np.array([dl_du0, dl_du1, dl_du2])


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.0, 0.8, 0.2])
@pytest.mark.parametrize("detach", [True, False])
def test_bpsa_bpta_three_steps_by_hand(alpha, detach):
    def loss(x):
        s, _ = neurons.lif(x[:, None], decay=0.9, v_th=0.5, spike_fn=surrogate.bpsa(), bpta_alpha=alpha, detach_reset=detach)
        return jnp.sum(s[:, 0] * jnp.asarray(C3, jnp.float32))

    x = jnp.asarray(X3, jnp.float32)
    s, _ = neurons.lif(x[:, None], decay=0.9, v_th=0.5, spike_fn=surrogate.bpsa(), bpta_alpha=alpha)
    np.testing.assert_array_equal(np.asarray(s[:, 0]), [1, 0, 1])  # forward unchanged by BPSA/BPTA
    np.testing.assert_allclose(np.asarray(jax.grad(loss)(x)), _hand_bpsa(alpha, detach), rtol=1e-5)


def test_bpta_worked_check_of_notes():
    """NOTES.md: 2 steps, detached hard reset, spike at t=0 so u[1] = x[1]:
    ∂o[1]/∂x[0] = g'(u[1] − u_th)·λ·α·g'(u[0] − u_th) with BPTA, 0 without."""
    lam, u_th, alpha, a = 0.9, 0.5, 0.8, 4.0
    x = jnp.array([[0.9], [0.3]], jnp.float32)
    g = lambda z: a * _sigmoid(a * z) * (1 - _sigmoid(a * z))

    def o1(x, bpta):
        s, _ = neurons.lif(x, decay=lam, v_th=u_th, spike_fn=surrogate.sigmoid(a), detach_reset=True, bpta_alpha=bpta)
        return s[1, 0]

    with_bpta = jax.grad(o1)(x, alpha)[0, 0]
    np.testing.assert_allclose(float(with_bpta), g(0.3 - u_th) * lam * alpha * g(0.9 - u_th), rtol=1e-5)
    assert float(jax.grad(o1)(x, 0.0)[0, 0]) == 0.0


@pytest.mark.slow
def test_bpta_reaches_the_released_code_by_arguments():
    """The authors' BP-STA node, step by step: u += x; s = [u ≥ θ]·u/sg(u); u = u(1 - s);
    u += 0.2(s - sg(s)); u *= 0.9.  Written here in JAX; equals lif(..., bpta_alpha=0.2) in value and gradient."""

    def released_code(x):
        u = jnp.zeros(x.shape[1:], x.dtype)
        out = []
        for t in range(x.shape[0]):
            u = u + x[t]
            s = (u >= 0.5).astype(u.dtype) * u / jax.lax.stop_gradient(u)
            u = u * (1 - s)
            u = u + 0.2 * (s - jax.lax.stop_gradient(s))
            u = 0.9 * u
            out.append(s)
        return jnp.stack(out)

    def ours(x):
        s, _ = neurons.lif(x, decay=0.9, v_th=0.5, spike_fn=surrogate.bpsa(), bpta_alpha=0.2)
        return s

    x = jnp.asarray(np.random.default_rng(3).uniform(0.0, 0.8, (10, 7)), jnp.float32)
    w = jnp.asarray(np.random.default_rng(4).normal(size=(10, 7)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(released_code(x)), np.asarray(ours(x)))
    g_code = jax.grad(lambda x: jnp.sum(released_code(x) * w))(x)
    g_ours = jax.grad(lambda x: jnp.sum(ours(x) * w))(x)
    np.testing.assert_allclose(np.asarray(g_ours), np.asarray(g_code), rtol=1e-5, atol=1e-6)
    assert np.abs(np.asarray(g_ours)).sum() > 0


# --- Finite differences with a smooth spike function ---------------------------------------------
def smooth_spike(u, v_th):
    """A smooth stand-in for the spike: the whole scan is then differentiable in the usual sense."""
    return jax.nn.sigmoid(3.0 * (u - v_th))


def _central_difference(f, x, eps=1e-6):
    """(f(x + eps·e_i) - f(x - eps·e_i)) / 2eps for every coordinate i, evaluated in one vmap."""
    x = np.asarray(x, np.float64)
    steps = eps * np.eye(x.size).reshape((x.size,) + x.shape)
    f_batched = jax.jit(jax.vmap(f))
    plus, minus = f_batched(jnp.asarray(x + steps)), f_batched(jnp.asarray(x - steps))
    return (np.asarray(plus) - np.asarray(minus)).reshape(x.shape) / (2 * eps)


CASES = {
    "lif-hard": lambda x, p: neurons.lif(x, decay=p, v_th=0.6, spike_fn=smooth_spike)[0],
    "lif-soft": lambda x, p: neurons.lif(x, decay=p, v_th=0.6, spike_fn=smooth_spike, reset="soft")[0],
    "lif-decay-input": lambda x, p: neurons.lif(x, decay=p, spike_fn=smooth_spike, decay_input=True)[0],
    "llc-lif": lambda x, p: neurons.llc_lif(x, p, v_th=0.6, spike_fn=smooth_spike)[0],
    "alif": lambda x, p: neurons.alif(x, decay=0.8, rho=p, beta=0.7, v_th=0.6, spike_fn=smooth_spike)[0],
    "alif-soft": lambda x, p: neurons.alif(x, decay=p, beta=0.7, v_th=0.6, spike_fn=smooth_spike, reset="soft")[0],
    "ce-lif": lambda x, p: neurons.ce_lif(x, p * jnp.linspace(-1.0, 1.0, x.shape[0] * x.shape[2]).reshape(x.shape[0], x.shape[2]), spike_fn=smooth_spike)[0],
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_scan_gradient_matches_finite_differences(case):
    f = CASES[case]
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        x0 = rng.normal(0.4, 0.6, (5, 2, 3))
        w = jnp.asarray(rng.normal(size=(5, 2, 3)))
        p0 = 0.7
        loss_x = lambda x: jnp.sum(f(x, jnp.float64(p0)) * w)
        loss_p = lambda p: jnp.sum(f(jnp.asarray(x0), p) * w)
        np.testing.assert_allclose(np.asarray(jax.grad(loss_x)(jnp.asarray(x0))), _central_difference(loss_x, x0), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(float(jax.grad(loss_p)(jnp.float64(p0))), _central_difference(loss_p, np.float64(p0)), rtol=1e-6, atol=1e-8)


@pytest.mark.slow
def test_ce_lif_te_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        rng = np.random.default_rng(1)
        x = jnp.asarray(rng.normal(0.3, 0.5, (4, 2, 3)))
        te0 = rng.normal(0.01, 0.2, (4, 3))
        loss = lambda te: jnp.sum(neurons.ce_lif(x, te, spike_fn=smooth_spike)[0] * jnp.arange(24.0).reshape(4, 2, 3))
        np.testing.assert_allclose(np.asarray(jax.grad(loss)(jnp.asarray(te0))), _central_difference(loss, te0), rtol=1e-6, atol=1e-8)


def test_ce_lif_threshold_gradient_by_hand():
    """One neuron, two steps, boxcar(0.2): θ[1] = ρθ0 + (1-ρ)θ0 + u[0]·TE[1] = θ0 + u[0]·TE[1].
    o[1] = H(u[1] - θ[1]), so ∂o[1]/∂TE[1] = -g'(u[1] - θ[1])·u[0] = -(1/0.2)·u[0] inside the window."""
    x = jnp.array([[0.1], [0.35]], jnp.float32)  # u[0] = 0.1 < θ0 = 0.3: no spike, no reset
    te = jnp.array([[0.0], [0.5]], jnp.float32)
    # u[1] = 0.5·0.1 + 0.35 = 0.4; θ[1] = 0.3 + 0.1·0.5 = 0.35; u[1] - θ[1] = 0.05 (inside |·| < 0.1)
    grad = jax.grad(lambda te: neurons.ce_lif(x, te)[0][1, 0])(te)
    np.testing.assert_allclose(np.asarray(grad), [[0.0], [-(1 / 0.2) * 0.1]], rtol=1e-5)


def test_llc_leak_gradient_by_hand():
    """One step after rest is leak-free; two steps: u[1] = k·u[0] + x[1] (no spike at t=0), with
    k = sigmoid(a), so ∂u[1]/∂a = u[0]·k(1-k) and ∂o[1]/∂a = g'(u[1] - v_th)·u[0]·k(1-k)."""
    a, x0, x1 = 0.3, 0.4, 0.5
    k = _sigmoid(a)
    u1 = k * x0 + x1
    g = lambda z: 4 * _sigmoid(4 * z) * (1 - _sigmoid(4 * z))
    grad = jax.grad(lambda a: neurons.llc_lif(jnp.array([[x0], [x1]], jnp.float32), a)[0][1, 0])(jnp.float32(a))
    np.testing.assert_allclose(float(grad), g(u1 - 1.0) * x0 * k * (1 - k), rtol=1e-5)


# --- The surrogate gradient itself through time, by snnjax.testing ---------------------------------
# Unlike the smooth-spike cases above, the neurons here fire real 0/1 spikes; the helper compares their
# surrogate gradient with finite differences of the neuron whose spikes are s* + F(z) - F(z*) (the
# same forward pass at the point, smooth around it). BPTA and detach_reset are no derivative and are
# checked by hand above.
RELAXATION_CASES = {
    "lif-hard": (lambda st, x, fn, p: neurons.lif_step(st, x, decay=p[0], v_th=p[1], spike_fn=fn),
                 lambda x, st, fn, p: neurons.lif(x, decay=p[0], v_th=p[1], spike_fn=fn, state=st), neurons.lif_init_state),
    "lif-soft-decay-input": (lambda st, x, fn, p: neurons.lif_step(st, x, decay=p[0], v_th=p[1], spike_fn=fn, reset="soft", decay_input=True),
                             None, neurons.lif_init_state),
    "alif": (lambda st, x, fn, p: neurons.alif_step(st, x, decay=p[0], rho=0.9, beta=0.7, v_th=p[1], spike_fn=fn),
             lambda x, st, fn, p: neurons.alif(x, decay=p[0], rho=0.9, beta=0.7, v_th=p[1], spike_fn=fn, state=st),
             neurons.alif_init_state),
    "leaky": (lambda st, x, fn, p: neurons.leaky_step(st, x, decay=p[0], v_th=p[1], spike_fn=fn), None, neurons.leaky_init_state),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(RELAXATION_CASES))
def test_surrogate_gradient_through_time_matches_the_smooth_relaxation(case):
    from snnjax import testing

    step, sequence, init = RELAXATION_CASES[case]
    x = np.random.default_rng(2).normal(0.4, 0.6, (6, 2, 3))
    testing.assert_neuron_grad_matches_relaxation(step, x, init((2, 3)), surrogate.atan(), params=(0.7, 0.5),
                                                  sequence=sequence)
