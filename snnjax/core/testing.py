"""Test helpers for surrogate gradients, built on chex assertions.

A spike :math:`s = H(u - \\vartheta)` has derivative zero almost everywhere, so its gradient cannot
be checked against finite differences directly. What can be checked is the *smooth relaxation* the
surrogate stands for: a smooth surrogate is the derivative of a primitive :math:`F` (a smooth step),
so

1. :func:`assert_surrogate_matches_primitive`: the spike function's backward pass equals
   :math:`F'(u - \\vartheta)` (to ``u``) and :math:`-F'` (to ``v_th``), against central differences
   of :math:`F`;
2. :func:`assert_neuron_grad_matches_relaxation`: a neuron's gradient through time equals the
   derivative, by central differences, of the same neuron with every spike replaced by
   :math:`s^*_t + F(z_t) - F(z^*_t)`, where :math:`z_t = u_t - \\vartheta_t` and the starred values
   are those of the real forward pass at the point checked. At that point the relaxed neuron's
   forward pass *is* the real one (same spikes, same resets), and its exact derivative is the chain
   rule with :math:`\\partial s/\\partial z = F'(z)`: the surrogate gradient through time. So
   everything the neuron's backward pass does (the reset, the leak, BPTA, a fused kernel's
   hand-written VJP) is checked against finite differences of an honest smooth function;
3. :func:`assert_custom_surrogate`: a surrogate made with :func:`snnjax.surrogate.from_primitive`
   fires on ``u >= v_th``, has a smooth primitive (chex's ``assert_numerical_grads``), passes check 1,
   and gives its parameters the gradient :math:`\\partial F / \\partial \\theta`.

Tolerances. Every check runs in float64 (``jax.enable_x64`` inside the helper; inputs are cast).
A central difference :math:`(f(x + \\epsilon) - f(x - \\epsilon)) / 2\\epsilon` is off by the
truncation :math:`\\epsilon^2 |f'''| / 6` plus the rounding :math:`\\approx 10^{-16} |f| / \\epsilon`;
with the default :math:`\\epsilon = 10^{-6}` both are about :math:`10^{-10}` relative for primitives of
moderate steepness (σ(4x): :math:`|f'''| \\le 4^3/8`), so ``rtol = 1e-6`` leaves four orders of
margin while a wrong factor (a surrogate scaled by 2, a dropped path through time) is off by order
one. ``atol`` covers gradients that are zero by construction. Finite differences need the
function smooth within :math:`\\epsilon` of the points checked: piecewise primitives (boxcar,
triangle, piecewise quadratic, the kink of :math:`|x|` in fast sigmoid at 0) must be checked at
points at least :math:`\\epsilon` away from their kinks.

Use them in your own tests::

    from snnjax.core import neurons
    from snnjax.core import surrogate
    from snnjax.core import testing

    testing.assert_surrogate_matches_primitive(surrogate.sigmoid(4.0), xs=[-0.5, 0.1, 0.7])
    testing.assert_neuron_grad_matches_relaxation(
        lambda st, x, fn, k: neurons.lif_step(st, x, decay=k, v_th=0.5, spike_fn=fn),
        x_seq, neurons.lif_init_state(x_seq.shape[1:]), surrogate.sigmoid(4.0), params=0.7)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.typing import ArrayLike

from snnjax.core import surrogate

Array = jax.Array
Primitive = Callable[[Array], Array]
# step(state, x_t, spike_fn, params) -> (state, s_t)
StepFn = Callable[[Any, Array, surrogate.SpikeFunction, Any], tuple[Any, Array]]
# sequence(x_seq, state, spike_fn, params) -> (s_seq, final_state)
SequenceFn = Callable[[Array, Any, surrogate.SpikeFunction, Any], tuple[Array, Any]]

EPS = 1e-6
RTOL = 1e-6
ATOL = 1e-9


def primitive_of(spike_fn: Any) -> Primitive:
    """The smooth primitive ``F(x)`` behind a spike function, with its parameters bound.

    Library surrogates have ``spike_fn.primitive(x)``; a :func:`snnjax.surrogate.from_primitive`
    surrogate holds ``primitive(x, *params)`` and its ``params``.
    """
    if isinstance(spike_fn, surrogate.Custom):
        return lambda x: spike_fn.primitive(x, *spike_fn.params)
    if hasattr(spike_fn, "primitive"):
        return spike_fn.primitive
    raise TypeError(f"{type(spike_fn).__name__} has no smooth primitive (BPSA and surrogate.strict(...) have none); "
                    "pass primitive= explicitly")


def _central_differences(f: Callable[[Array], Array], x: Array, eps: float) -> Array:
    """``∂f/∂x_i`` by ``(f(x + eps e_i) - f(x - eps e_i)) / 2 eps`` for every coordinate of a flat ``x``."""
    steps = eps * jnp.eye(x.size, dtype=x.dtype)
    f_batched = jax.jit(jax.vmap(f))
    x = jnp.broadcast_to(x, steps.shape)
    return (f_batched(x + steps) - f_batched(x - steps)) / (2 * eps)


def _float64(tree: Any) -> Any:
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)


def assert_surrogate_matches_primitive(spike_fn: surrogate.SpikeFunction, primitive: Primitive | None = None,
                                       xs: ArrayLike | None = None, *, v_th: ArrayLike = 0.25,
                                       eps: float = EPS, rtol: float = RTOL, atol: float = ATOL) -> None:
    """The backward pass of ``spike_fn`` is the derivative of ``primitive`` (default: its own).

    At each ``x`` of ``xs`` (default: 21 points on [-1.05, 0.95], none at 0), with
    ``u = x + v_th``: ``∂ spike_fn(u, v_th)/∂u = F'(x)`` and ``∂/∂v_th = -F'(x)``, with ``F'`` by
    central differences of ``primitive`` (step ``eps``), all in float64. The forward value must be
    ``H(x)``. ``xs`` must keep ``eps`` away from kinks of the primitive (module docstring).

    Raises:
        AssertionError: (chex) a gradient or forward value differs beyond ``rtol``/``atol``.
    """
    primitive = primitive_of(spike_fn) if primitive is None else primitive
    with jax.enable_x64(True):
        xs = jnp.linspace(-1.05, 0.95, 21) if xs is None else jnp.asarray(xs, jnp.float64)
        xs = jnp.ravel(xs)
        v_th = jnp.asarray(v_th, jnp.float64)
        u = xs + v_th
        chex.assert_trees_all_equal(spike_fn(u, v_th), (xs >= 0).astype(jnp.float64),
                                    custom_message="the forward pass is not the Heaviside step H(u - v_th)")
        fd = (jax.vmap(primitive)(xs + eps) - jax.vmap(primitive)(xs - eps)) / (2 * eps)
        du = jax.vmap(jax.grad(lambda u_: spike_fn(u_, v_th)))(u)
        chex.assert_trees_all_close(du, fd, rtol=rtol, atol=atol,
                                    custom_message="∂s/∂u differs from the primitive's derivative F'(u - v_th)")
        dv = jax.vmap(jax.grad(lambda v_, u_: spike_fn(u_, v_)), in_axes=(None, 0))(v_th, u)
        chex.assert_trees_all_close(dv, -fd, rtol=rtol, atol=atol,
                                    custom_message="∂s/∂v_th differs from -F'(u - v_th)")


def _scan(step: StepFn, x_seq: Array, state: Any, spike_fn: Callable, params: Any) -> tuple[Array, Any]:
    state, s_seq = jax.lax.scan(lambda st, x_t: step(st, x_t, spike_fn, params), state, x_seq)
    return s_seq, state


def _spike_arguments(step: StepFn, x_seq: Array, state: Any, params: Any) -> Array:
    """``z_t = u_t - v_th_t`` at every step of the real forward pass, ``[T, *shape]``."""

    def body(st, x_t):
        seen = []

        def recording_spike(u, v_th=0.0):
            z = u - jnp.broadcast_to(jnp.asarray(v_th).astype(u.dtype), u.shape)
            seen.append(z)
            return surrogate.heaviside(z)

        st, _ = step(st, x_t, recording_spike, params)
        if len(seen) != 1:
            raise ValueError(f"the step called its spike function {len(seen)} times; the relaxation needs exactly one call per step")
        return st, seen[0]

    return jax.lax.scan(body, state, x_seq)[1]


def _relaxed_scan(step: StepFn, primitive: Primitive, z_star: Array, x_seq: Array, state: Any,
                  params: Any) -> tuple[Array, Any]:
    """The neuron with each spike ``s*_t + F(z_t) - F(z*_t)``: the real forward at ``z = z*``, smooth around it."""

    def body(st, inputs):
        x_t, z_star_t = inputs

        def relaxed_spike(u, v_th=0.0):
            z = u - jnp.broadcast_to(jnp.asarray(v_th).astype(u.dtype), u.shape)
            return surrogate.heaviside(z_star_t) + primitive(z) - primitive(z_star_t)

        return step(st, x_t, relaxed_spike, params)

    state, s_seq = jax.lax.scan(body, state, (x_seq, z_star))
    return s_seq, state


def assert_neuron_grad_matches_relaxation(
    step: StepFn,
    x_seq: ArrayLike,
    state: Any,
    spike_fn: surrogate.SpikeFunction,
    *,
    params: Any = (),
    sequence: SequenceFn | None = None,
    primitive: Primitive | None = None,
    seed: int = 0,
    eps: float = EPS,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> float:
    """A neuron's surrogate gradient through time equals finite differences of its smooth relaxation.

    The loss is :math:`L = \\sum_t \\langle c_t, s_t\\rangle + \\langle c', \\text{final state}\\rangle`
    with fixed random cotangents ``c`` (``seed``). Its gradient with respect to ``(x_seq, state,
    params)`` by ``jax.grad`` of the real neuron (``sequence``, default a ``lax.scan`` of ``step``
    with ``spike_fn``) must equal central differences (step ``eps``, float64) of the same loss with
    every spike replaced by :math:`s^*_t + F(z_t) - F(z^*_t)`, built from ``step`` (module
    docstring). Pass ``sequence`` to check another implementation of the same neuron (a fused
    kernel, an associative scan) against the step's relaxation.

    Gradients that are by design no function's derivative fail this check, rightly: BPTA
    (``bpta_alpha != 0`` adds :math:`\\alpha(s - \\mathrm{sg}(s))`, zero in every forward pass) and
    ``detach_reset=True`` (the reset's dependence on the spike is real in the forward pass). Check
    those against hand-derived formulas (``tests/core/test_neurons_gradients.py``).

    Args:
        step: ``step(state, x_t, spike_fn, params) -> (state, s_t)``, calling ``spike_fn(u, v_th)``
            once per step, e.g. ``lambda st, x, fn, k: neurons.lif_step(st, x, decay=k, spike_fn=fn)``.
        x_seq: inputs ``[T, *shape]``; keep it small, each coordinate costs two forward passes.
        state: the initial state (a pytree of float arrays).
        spike_fn: the real spike function (Heaviside forward, surrogate backward).
        params: a pytree of the neuron's differentiable parameters (decay, threshold, ...), or ``()``.
        sequence: ``sequence(x_seq, state, spike_fn, params) -> (s_seq, final_state)`` to check.
        primitive: ``F``; default :func:`primitive_of` ``(spike_fn)``.

    Returns:
        The largest absolute difference between the gradient and the finite differences (to report).

    Raises:
        AssertionError: (chex) the gradients differ beyond ``rtol``/``atol``.
    """
    primitive = primitive_of(spike_fn) if primitive is None else primitive
    sequence = sequence or (lambda x, st, fn, p: _scan(step, x, st, fn, p))
    with jax.enable_x64(True):
        x_seq, state, params = _float64((x_seq, state, params))
        args = (x_seq, state, params)
        flat, unravel = ravel_pytree(args)
        rng = np.random.default_rng(seed)
        s_shape = jax.eval_shape(lambda a: sequence(*a[:2], spike_fn, a[2]), args)
        cotangent = jax.tree.map(lambda sd: jnp.asarray(rng.normal(size=sd.shape)), s_shape)

        def loss(out):
            return sum(jnp.sum(c * o) for c, o in zip(jax.tree.leaves(cotangent), jax.tree.leaves(out)))

        real_grad = jax.grad(lambda f: loss(sequence(*unravel(f)[:2], spike_fn, unravel(f)[2])))(flat)
        z_star = _spike_arguments(step, x_seq, state, params)
        relaxed = lambda f: loss(_relaxed_scan(step, primitive, z_star, *unravel(f)))  # noqa: E731
        chex.assert_trees_all_close(
            relaxed(flat), loss(sequence(x_seq, state, spike_fn, params)), rtol=1e-12, atol=1e-12,
            custom_message="the relaxed neuron's forward pass is not the real one at the point checked "
                           "(the step must fire through spike_fn exactly as the sequence does)")
        fd = _central_differences(relaxed, flat, eps)
        chex.assert_trees_all_close(
            unravel(real_grad), unravel(fd), rtol=rtol, atol=atol,
            custom_message="the neuron's gradient differs from finite differences of its smooth relaxation")
        return float(jnp.max(jnp.abs(real_grad - fd)))


def assert_custom_surrogate(spike_fn: surrogate.Custom, xs: ArrayLike | None = None, *,
                            derivative: Callable[..., Array] | None = None,
                            eps: float = EPS, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Checks a surrogate made with :func:`snnjax.surrogate.from_primitive` from end to end.

    1. the primitive is smooth at ``xs``: its autodiff gradient, to ``x`` and to its parameters,
       matches numerical gradients (``chex.assert_numerical_grads``, step ``eps``, both modes);
    2. :func:`assert_surrogate_matches_primitive` (forward ``H``, ``∂s/∂u = F'``, ``∂s/∂v_th = -F'``);
    3. the parameters' gradient through the spike function is :math:`\\partial F(u - v_\\mathrm{th};
       \\theta)/\\partial\\theta`, by central differences of ``F`` in each parameter;
    4. ``spike_fn.derivative(x)`` equals the backward pass, and ``derivative(x, *params)`` (your own
       hand-written :math:`F'`, optional) equals it too.

    Raises:
        AssertionError: (chex) any of these differs beyond ``rtol``/``atol``.
    """
    if not isinstance(spike_fn, surrogate.Custom):
        raise TypeError(f"assert_custom_surrogate checks surrogate.from_primitive(...) surrogates, got {type(spike_fn).__name__}")
    with jax.enable_x64(True):
        xs = jnp.ravel(jnp.linspace(-1.05, 0.95, 21) if xs is None else jnp.asarray(xs, jnp.float64))
        params = tuple(_float64(spike_fn.params))
        spike_fn = surrogate.Custom(spike_fn.primitive, params)
        # jax.test_util.check_grads compares autodiff with finite differences along random directions;
        # its step eps and float64 give ~1e-10, so rtol 1e-5 only flags a wrong or non-smooth primitive.
        chex.assert_numerical_grads(lambda x_, *p: jax.vmap(lambda x: spike_fn.primitive(x, *p))(x_), (xs,) + params,
                                    order=1, modes=("fwd", "rev"), eps=eps, atol=max(atol, 1e-7), rtol=1e-5)
        assert_surrogate_matches_primitive(spike_fn, None, xs, v_th=0.0, eps=eps, rtol=rtol, atol=atol)
        backward = jax.vmap(jax.grad(lambda u: spike_fn(u, 0.0)))(xs)
        for i in range(len(params)):
            with_param = lambda p_i, i=i: surrogate.Custom(spike_fn.primitive, _replace(params, i, p_i))  # noqa: E731
            d_param = jax.vmap(jax.grad(lambda p_i, u: with_param(p_i)(u, 0.0)), in_axes=(None, 0))(params[i], xs)
            up, down = (jax.vmap(lambda x, p_i=p_i: spike_fn.primitive(x, *_replace(params, i, p_i)))(xs)
                        for p_i in (params[i] + eps, params[i] - eps))
            chex.assert_trees_all_close(d_param, (up - down) / (2 * eps), rtol=rtol, atol=atol,
                                        custom_message=f"the gradient to parameter {i} is not ∂F/∂θ_{i}")
        chex.assert_trees_all_close(spike_fn.derivative(xs), backward, rtol=1e-12, atol=1e-15,
                                    custom_message="spike_fn.derivative differs from the backward pass")
        if derivative is not None:
            chex.assert_trees_all_close(backward, jax.vmap(lambda x: derivative(x, *params))(xs), rtol=rtol, atol=atol,
                                        custom_message="the backward pass differs from the hand-written derivative")


def _replace(values: Sequence[Any], i: int, value: Any) -> tuple:
    return tuple(value if j == i else v for j, v in enumerate(values))
