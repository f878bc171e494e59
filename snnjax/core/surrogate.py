"""Spike functions: a Heaviside forward pass with a custom backward pass.

A *spike function* maps a membrane potential ``u`` and a threshold ``v_th`` to spikes

.. math::  s = H(u - v_\\mathrm{th}), \\qquad H(x) = 1 \\text{ if } x \\ge 0 \\text{ else } 0,

and replaces the derivative of :math:`H` (zero almost everywhere) in the backward pass. Every spike
function here is a small frozen dataclass registered as a JAX pytree whose fields are its
hyper-parameters, so it can be passed through ``jax.jit``, swept with ``jax.vmap`` or learned with
``jax.grad`` like any other array argument::

    spike_fn = surrogate.sigmoid(alpha=4.0)
    s = spike_fn(u, v_th)                       # 0/1, dtype of u
    s = spike_fn(u - v_th)                      # the same: one argument means threshold 0
    g = spike_fn.derivative(u - v_th)           # the g'(x) used in the backward pass

Smooth surrogates (``sigmoid``, ``atan``, ``boxcar``, ``triangle``, and the peers' ``fast_sigmoid`` =
``superspike``, ``piecewise_quadratic``, ``erf``, ``soft_sign``, ``straight_through``) define the backward pass as the
vector-Jacobian product of a smooth *primitive* :math:`F(u - v_\\mathrm{th}; \\theta)`: the gradient
to ``u`` is :math:`g'(x) = F'(x)`, the gradient to ``v_th`` is :math:`-g'(x)` (adaptive thresholds
learn through it), and the gradient to a hyper-parameter :math:`\\theta` is
:math:`\\partial F / \\partial \\theta`. ``bpsa`` is the biologically plausible spatial adjustment of
the bpsa-bpta paper (Eq. 9): :math:`\\partial s/\\partial u = 1/u` where the neuron fired, 0 elsewhere.
``strict(spike_fn)`` fires on ``u > v_th`` (snnTorch, Spyx) with ``spike_fn``'s backward pass.

Every width, sharpness or ``eps`` must be > 0. The factories (``sigmoid(alpha)``...) refuse a
concrete value <= 0 with one line (:func:`check_parameter`); the classes (``Sigmoid(alpha)``) do not
check, since JAX rebuilds them from leaves that may be tracers or ``vmap`` axis specs. Traced values
(a ``vmap`` sweep, a ``jit`` argument, a learned parameter) cannot be checked: a value <= 0 there
gives negative, zero, NaN or infinite gradients silently, so parameterise learned ones to stay
positive (``jax.nn.softplus``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Protocol

import jax
import jax.numpy as jnp

from snnjax.core.registry import Registry

Array = jax.Array
ArrayLike = jax.typing.ArrayLike


class SpikeFunction(Protocol):
    """``spike_fn(u, v_th=0.0) -> s``: Heaviside forward, custom backward.

    ``spike_fn(x)`` (one argument, threshold 0) is ``H(x)``, as the peers' spike functions are called.
    """

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array: ...


def heaviside(x: Array) -> Array:
    """:math:`H(x)` with :math:`H(0) = 1`, in the dtype of ``x``."""
    return (x >= 0).astype(x.dtype)


def _smooth_spike(primitive: Callable[..., Array]) -> Callable[..., Array]:
    """Builds ``spike(u, v_th, *params)``: ``H(u - v_th)`` forward, ``vjp`` of ``primitive`` backward."""

    @jax.custom_vjp
    def spike(u, v_th, *params):
        return heaviside(u - v_th)

    def fwd(u, v_th, *params):
        return spike(u, v_th, *params), (u, v_th, params)

    def bwd(res, g):
        u, v_th, params = res
        _, vjp = jax.vjp(lambda u_, v_, *p: primitive(u_ - v_, *p), u, v_th, *params)
        return vjp(g)

    spike.defvjp(fwd, bwd)
    return spike


def _sigmoid_primitive(x, alpha):
    return jax.nn.sigmoid(alpha * x)


def _atan_primitive(x, alpha):
    return jnp.arctan((math.pi / 2) * alpha * x) / math.pi + 0.5


def _boxcar_primitive(x, width):
    # Piecewise, so that autodiff gives exactly 1/width inside |x| < width/2 and 0 outside.
    inside = jnp.abs(x) < width / 2
    return jnp.where(inside, x / width + 0.5, jnp.where(x >= 0, jnp.ones_like(x), jnp.zeros_like(x)))


def _triangle_primitive(x, width):
    # The integral of max(0, 1 - |x|/w)/w, written branch by branch.
    left = 0.5 * jnp.square(1 + x / width)
    right = 1 - 0.5 * jnp.square(1 - x / width)
    ramp = jnp.where(x < 0, left, right)
    outside = jnp.where(x >= 0, jnp.ones_like(x), jnp.zeros_like(x))
    return jnp.where(jnp.abs(x) < width, ramp, outside)


_sigmoid_spike = _smooth_spike(_sigmoid_primitive)
_atan_spike = _smooth_spike(_atan_primitive)
_boxcar_spike = _smooth_spike(_boxcar_primitive)
_triangle_spike = _smooth_spike(_triangle_primitive)


def _pytree_dataclass(cls):
    cls = dataclasses.dataclass(frozen=True)(cls)
    return jax.tree_util.register_dataclass(
        cls, data_fields=[f.name for f in dataclasses.fields(cls)], meta_fields=[]
    )


@_pytree_dataclass
class Sigmoid:
    """Sigmoid surrogate (SpikingJelly's ``surrogate.Sigmoid``).

    .. math::  F(x) = \\sigma(\\alpha x), \\qquad g'(x) = \\alpha\\,\\sigma(\\alpha x)\\,(1 - \\sigma(\\alpha x)).
    """

    alpha: ArrayLike = 4.0

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        return _sigmoid_spike(u, v_th, self.alpha)

    def primitive(self, x: Array) -> Array:
        return _sigmoid_primitive(x, self.alpha)

    def derivative(self, x: Array) -> Array:
        sg = jax.nn.sigmoid(self.alpha * x)
        return self.alpha * sg * (1 - sg)


@_pytree_dataclass
class ATan:
    """Arctangent surrogate (SpikingJelly's ``surrogate.ATan``; the llc-lif released code, alpha=2).

    .. math::  F(x) = \\tfrac{1}{\\pi}\\arctan(\\tfrac{\\pi}{2}\\alpha x) + \\tfrac12, \\qquad
               g'(x) = \\frac{\\alpha/2}{1 + (\\tfrac{\\pi}{2}\\alpha x)^2}.
    """

    alpha: ArrayLike = 2.0

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        return _atan_spike(u, v_th, self.alpha)

    def primitive(self, x: Array) -> Array:
        return _atan_primitive(x, self.alpha)

    def derivative(self, x: Array) -> Array:
        return (self.alpha / 2) / (1 + jnp.square((math.pi / 2) * self.alpha * x))


@_pytree_dataclass
class Boxcar:
    """Rectangular surrogate (the CE-LIF paper's, width a = 0.2 there).

    .. math::  g'(x) = \\frac{1}{a} \\text{ for } |x| < a/2, \\quad 0 \\text{ elsewhere.}
    """

    width: ArrayLike = 1.0

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        return _boxcar_spike(u, v_th, self.width)

    def primitive(self, x: Array) -> Array:
        return _boxcar_primitive(x, self.width)

    def derivative(self, x: Array) -> Array:
        return jnp.where(jnp.abs(x) < self.width / 2, 1 / self.width, 0.0).astype(x.dtype)


@_pytree_dataclass
class Triangle:
    """Triangular surrogate of half-width w (unit area).

    .. math::  g'(x) = \\frac{1}{w}\\max\\left(0, 1 - \\frac{|x|}{w}\\right).
    """

    width: ArrayLike = 1.0

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        return _triangle_spike(u, v_th, self.width)

    def primitive(self, x: Array) -> Array:
        return _triangle_primitive(x, self.width)

    def derivative(self, x: Array) -> Array:
        return jnp.maximum(0.0, 1 - jnp.abs(x) / self.width) / self.width


def _safe_reciprocal(u: Array, eps: ArrayLike) -> Array:
    magnitude = jnp.maximum(jnp.abs(u), eps)
    return jnp.where(u < 0, -1.0, 1.0).astype(u.dtype) / magnitude


@jax.custom_vjp
def _bpsa_spike(u, v_th, eps):
    return heaviside(u - v_th)


def _bpsa_fwd(u, v_th, eps):
    s = heaviside(u - v_th)
    return s, (u, s, v_th, eps)


def _bpsa_bwd(res, g):
    u, s, v_th, eps = res
    du = g * s * _safe_reciprocal(u, eps)
    zero_v_th = jnp.zeros(jnp.shape(v_th), jnp.result_type(v_th))
    return du.astype(u.dtype), zero_v_th, jnp.zeros(jnp.shape(eps), jnp.result_type(eps))


_bpsa_spike.defvjp(_bpsa_fwd, _bpsa_bwd)


@_pytree_dataclass
class BPSA:
    """Biologically plausible spatial adjustment (bpsa-bpta paper, Eq. 9).

    .. math::  \\frac{\\partial o}{\\partial u} = \\begin{cases} 1/u & o = 1 \\\\ 0 & \\text{otherwise} \\end{cases}

    ``u`` is the membrane potential that crossed the threshold; ``|u|`` is floored at ``eps`` so a
    threshold at 0 cannot divide by zero. The threshold gets no gradient (as in the authors' code,
    ``s = H(u - θ)·u / stop_gradient(u)``). The forward value is the plain 0/1 spike.
    """

    eps: ArrayLike = 1e-6

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        return _bpsa_spike(u, v_th, self.eps)

    def derivative_u(self, u: Array, v_th: ArrayLike) -> Array:
        return heaviside(u - v_th) * _safe_reciprocal(u, self.eps)


# What a parameter <= 0 would do, by kind of parameter (the message of check_parameter).
_BAD_PARAMETER = {
    "sharpness": "<= 0 gives negative or zero gradients (the spike would train against its loss)",
    "width": "<= 0 gives NaN or infinite gradients",
    "eps": "<= 0 leaves 1/u unbounded near u = 0 (infinite gradients)",
}


def check_parameter(factory: str, name: str, value: ArrayLike, kind: str) -> None:
    """Refuses a concrete surrogate parameter that is not finite and > 0.

    Every width or sharpness here must be positive: ``sigmoid(-4.)`` trains with negated gradients,
    ``boxcar(0.)`` with NaN ones, and nothing else would say so. Concrete values (Python numbers,
    NumPy and JAX arrays, a constant inside ``jax.jit``) are checked, every element of an array.
    Traced values are not: a parameter swept with ``jax.vmap``, passed as a ``jax.jit`` argument or
    learned under ``jax.grad`` is a tracer whose value is unknown here. There a value <= 0 gives the
    gradients named in the message, silently; keep a learned parameter positive by
    parameterising it (``alpha = jax.nn.softplus(raw)``) and sweep positive values only.

    Raises:
        ValueError: one line naming the factory, the parameter, its value and what it would do.
    """
    if isinstance(value, jax.core.Tracer):
        return
    concrete = jax.device_get(value)
    if isinstance(concrete, (bool, int, float)):
        good = math.isfinite(concrete) and concrete > 0
    else:
        good = bool(((concrete > 0) & (concrete < math.inf)).all())
    if not good:
        raise ValueError(
            f"surrogate.{factory}: {name} must be a finite number > 0, got {concrete}; {name} "
            f"{_BAD_PARAMETER[kind]}"
        )


def sigmoid(alpha: ArrayLike = 4.0) -> Sigmoid:
    """Sigmoid surrogate spike function, ``g'(x) = α σ(αx)(1 − σ(αx))``; ``alpha > 0``
    (:func:`check_parameter`)."""
    check_parameter("sigmoid", "alpha", alpha, "sharpness")
    return Sigmoid(alpha)


def atan(alpha: ArrayLike = 2.0) -> ATan:
    """Arctangent surrogate spike function, ``g'(x) = (α/2) / (1 + (π α x / 2)²)``; ``alpha > 0``."""
    check_parameter("atan", "alpha", alpha, "sharpness")
    return ATan(alpha)


def boxcar(width: ArrayLike = 1.0) -> Boxcar:
    """Rectangular surrogate spike function, ``g'(x) = 1/width`` on ``|x| < width/2``; ``width > 0``."""
    check_parameter("boxcar", "width", width, "width")
    return Boxcar(width)


def triangle(width: ArrayLike = 1.0) -> Triangle:
    """Triangular surrogate spike function, ``g'(x) = max(0, 1 − |x|/width) / width``; ``width > 0``."""
    check_parameter("triangle", "width", width, "width")
    return Triangle(width)


def bpsa(eps: ArrayLike = 1e-6) -> BPSA:
    """BPSA spike function: gradient ``1/u`` where the neuron fired, 0 elsewhere (bpsa paper, Eq. 9);
    ``|u|`` is floored at ``eps > 0``."""
    check_parameter("bpsa", "eps", eps, "eps")
    return BPSA(eps)


# --------------------------------------------------------------------------- the peers' surrogates


def _fast_sigmoid_primitive(x, slope):
    # d/dx x / (1 + k|x|) = 1 / (1 + k|x|)^2. Not a 0-to-1 step (it spans ±1/k): only its slope is used.
    return x / (1 + slope * jnp.abs(x))


def _piecewise_quadratic_primitive(x, alpha):
    inside = jnp.abs(x) <= 1 / alpha
    ramp = -0.5 * jnp.square(alpha) * x * jnp.abs(x) + alpha * x + 0.5
    outside = jnp.where(x >= 0, jnp.ones_like(x), jnp.zeros_like(x))
    return jnp.where(inside, ramp, outside)


def _erf_primitive(x, alpha):
    return 0.5 * (1 + jax.scipy.special.erf(alpha * x))


def _soft_sign_primitive(x, alpha):
    return 0.5 * (alpha * x / (1 + jnp.abs(alpha * x)) + 1)


def _straight_through_primitive(x):
    return x


_fast_sigmoid_spike = _smooth_spike(_fast_sigmoid_primitive)
_piecewise_quadratic_spike = _smooth_spike(_piecewise_quadratic_primitive)
_erf_spike = _smooth_spike(_erf_primitive)
_soft_sign_spike = _smooth_spike(_soft_sign_primitive)
_straight_through_spike = _smooth_spike(_straight_through_primitive)


@_pytree_dataclass
class FastSigmoid:
    """snnTorch's default surrogate ``surrogate.fast_sigmoid(slope=25)``, which is also Spyx's default
    ``axn.superspike(k=25)`` (SuperSpike, Zenke & Ganguli 2018, "SuperSpike: Supervised learning in
    multilayer spiking neural networks", Eq. 5).

    .. math::  F(x) = \\frac{x}{1 + k|x|}, \\qquad g'(x) = \\frac{1}{(1 + k|x|)^2}.

    The peak is 1 at any slope (its area is 2/k); :func:`soft_sign` is the unit-area version.
    """

    slope: ArrayLike = 25.0

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        return _fast_sigmoid_spike(u, v_th, self.slope)

    def primitive(self, x: Array) -> Array:
        return _fast_sigmoid_primitive(x, self.slope)

    def derivative(self, x: Array) -> Array:
        return 1 / jnp.square(1 + self.slope * jnp.abs(x))


@_pytree_dataclass
class PiecewiseQuadratic:
    """SpikingJelly's ``surrogate.PiecewiseQuadratic(alpha=1)`` (Esser et al. 2016 style).

    .. math::  g'(x) = \\max(0,\\; \\alpha - \\alpha^2 |x|), \\qquad \\text{zero outside } |x| \\le 1/\\alpha.
    """

    alpha: ArrayLike = 1.0

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        return _piecewise_quadratic_spike(u, v_th, self.alpha)

    def primitive(self, x: Array) -> Array:
        return _piecewise_quadratic_primitive(x, self.alpha)

    def derivative(self, x: Array) -> Array:
        return jnp.maximum(0.0, self.alpha - jnp.square(self.alpha) * jnp.abs(x)).astype(x.dtype)


@_pytree_dataclass
class Erf:
    """SpikingJelly's ``surrogate.Erf(alpha=2)``: the Gaussian error function.

    .. math::  F(x) = \\tfrac12\\,(1 + \\mathrm{erf}(\\alpha x)), \\qquad
               g'(x) = \\frac{\\alpha}{\\sqrt\\pi}\\,e^{-\\alpha^2 x^2}.
    """

    alpha: ArrayLike = 2.0

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        return _erf_spike(u, v_th, self.alpha)

    def primitive(self, x: Array) -> Array:
        return _erf_primitive(x, self.alpha)

    def derivative(self, x: Array) -> Array:
        return self.alpha / math.sqrt(math.pi) * jnp.exp(-jnp.square(self.alpha * x))


@_pytree_dataclass
class SoftSign:
    """SpikingJelly's ``surrogate.SoftSign(alpha=2)``.

    .. math::  F(x) = \\tfrac12\\left(\\frac{\\alpha x}{1 + |\\alpha x|} + 1\\right), \\qquad
               g'(x) = \\frac{\\alpha}{2\\,(1 + |\\alpha x|)^2}.
    """

    alpha: ArrayLike = 2.0

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        return _soft_sign_spike(u, v_th, self.alpha)

    def primitive(self, x: Array) -> Array:
        return _soft_sign_primitive(x, self.alpha)

    def derivative(self, x: Array) -> Array:
        return self.alpha / (2 * jnp.square(1 + jnp.abs(self.alpha * x)))


@_pytree_dataclass
class StraightThrough:
    """The straight-through estimator (snnTorch ``surrogate.straight_through_estimator()``; Spyx's
    ``Heaviside()`` activation): the incoming gradient passes unchanged, ``g'(x) = 1``.
    """

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        return _straight_through_spike(u, v_th)

    def primitive(self, x: Array) -> Array:
        return _straight_through_primitive(x)

    def derivative(self, x: Array) -> Array:
        return jnp.ones_like(x)


@_pytree_dataclass
class Strict:
    """``spike_fn`` with a strict threshold: a spike is ``u > v_th`` (snnTorch, Spyx) instead of ``u >= v_th``.

    The backward pass is ``spike_fn``'s; only the forward value at ``u == v_th`` changes (0, not 1).
    """

    spike_fn: Any

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        if isinstance(self.spike_fn, _CUSTOM_VJP_SPIKES):
            return _strict_spike(self.spike_fn, u, v_th)
        s = self.spike_fn(u, v_th)
        strict = (u > v_th).astype(s.dtype)
        return s + jax.lax.stop_gradient(strict - s)


# Their backward pass is already a custom VJP, so ``strict`` can take it whole: one compare per call
# instead of ``s + stop_gradient([u > v_th] - s)`` (two compares, two converts, a subtraction and an
# addition per step inside a scan, issue 37). Same values and the same cotangents, bit for bit: the
# stop_gradient branch contributed nothing to the backward pass, and s + ([u > v_th] - s) is exactly
# [u > v_th] for a 0/1 spike. Other spike functions (BPSACode, your own) keep that formula, which
# also runs under forward-mode autodiff.
@jax.custom_vjp
def _strict_spike(spike_fn, u, v_th):
    dtype = jax.eval_shape(spike_fn, u, v_th).dtype  # the inner spike's dtype, as before
    return (u > v_th).astype(dtype)


def _strict_spike_fwd(spike_fn, u, v_th):
    # The inner forward value is not used, so XLA drops it; only its residuals are kept.
    _, vjp = jax.vjp(lambda f, u_, v_: f(u_, v_), spike_fn, u, v_th)
    return _strict_spike(spike_fn, u, v_th), vjp


def _strict_spike_bwd(vjp, g):
    return vjp(g)


_strict_spike.defvjp(_strict_spike_fwd, _strict_spike_bwd)


def fast_sigmoid(slope: ArrayLike = 25.0) -> FastSigmoid:
    """snnTorch's fast sigmoid, ``g'(x) = 1 / (1 + slope·|x|)²``; ``slope > 0``."""
    check_parameter("fast_sigmoid", "slope", slope, "sharpness")
    return FastSigmoid(slope)


def superspike(k: ArrayLike = 25.0) -> FastSigmoid:
    """Spyx's SuperSpike, ``g'(x) = 1 / (1 + k|x|)²``: the same function as :func:`fast_sigmoid`; ``k > 0``."""
    check_parameter("superspike", "k", k, "sharpness")
    return FastSigmoid(k)


def piecewise_quadratic(alpha: ArrayLike = 1.0) -> PiecewiseQuadratic:
    """Piecewise quadratic surrogate, ``g'(x) = max(0, α − α²|x|)``; ``alpha > 0``."""
    check_parameter("piecewise_quadratic", "alpha", alpha, "sharpness")
    return PiecewiseQuadratic(alpha)


def erf(alpha: ArrayLike = 2.0) -> Erf:
    """Error-function surrogate, ``g'(x) = (α/√π) exp(−α²x²)``; ``alpha > 0``."""
    check_parameter("erf", "alpha", alpha, "sharpness")
    return Erf(alpha)


def soft_sign(alpha: ArrayLike = 2.0) -> SoftSign:
    """Soft-sign surrogate, ``g'(x) = α / (2 (1 + |αx|)²)``; ``alpha > 0``."""
    check_parameter("soft_sign", "alpha", alpha, "sharpness")
    return SoftSign(alpha)


def straight_through() -> StraightThrough:
    """Straight-through estimator, ``g'(x) = 1``."""
    return StraightThrough()


def strict(spike_fn: SpikeFunction) -> Strict:
    """``spike_fn`` firing on ``u > v_th`` (snnTorch's convention) instead of ``u >= v_th``."""
    return Strict(spike_fn)


@_pytree_dataclass
class BPSACode:
    """The spike of the BP-STA authors' released node (a numerical artifact of their code, not Eq. 9).

    .. math::  s = H(u - \\theta)\\,\\frac{u}{\\mathrm{sg}(u) + \\epsilon}, \\qquad
               \\frac{\\partial s}{\\partial u} = \\frac{H(u - \\theta)}{u + \\epsilon}, \\qquad \\epsilon = 10^{-12}

    The forward value is :math:`1 - \\epsilon/u`, not 1: in float64 a max pool then passes the gradient to
    the neuron of the window with the largest membrane instead of the first one; in float32 the value
    rounds to 1. Use it only to reproduce the released run (``configs/bpsa_*_code.py``).
    """

    eps: ArrayLike = 1e-12

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        eps = jnp.asarray(self.eps, u.dtype)
        return heaviside(u - jnp.asarray(v_th, u.dtype)) * u / (jax.lax.stop_gradient(u) + eps)

    def derivative_u(self, u: Array, v_th: ArrayLike) -> Array:
        return heaviside(u - jnp.asarray(v_th, u.dtype)) / (u + jnp.asarray(self.eps, u.dtype))


def bpsa_code(eps: ArrayLike = 1e-12) -> BPSACode:
    """The released BP-STA spike ``H(u − θ)·u/(sg(u) + eps)`` (forward ``1 − eps/u``; see :class:`BPSACode`);
    ``eps > 0``."""
    check_parameter("bpsa_code", "eps", eps, "eps")
    return BPSACode(eps)


_CUSTOM_SPIKES: dict[Callable[..., Array], Callable[..., Array]] = {}


@dataclasses.dataclass(frozen=True)
class Custom:
    """A spike function whose backward pass is the VJP of a smooth primitive you supply.

    ``primitive(x, *params)`` is a smooth step (0 far below 0, 1 far above); the forward pass is still
    ``H(u - v_th)``. Build it with :func:`from_primitive`. ``params`` are pytree leaves (learnable,
    vmappable); the primitive itself is static.
    """

    primitive: Callable[..., Array]
    params: tuple = ()

    def __call__(self, u: Array, v_th: ArrayLike = 0.0) -> Array:
        spike = _CUSTOM_SPIKES.get(self.primitive)
        if spike is None:
            spike = _CUSTOM_SPIKES.setdefault(self.primitive, _smooth_spike(self.primitive))
        return spike(u, v_th, *self.params)

    def derivative(self, x: Array) -> Array:
        """g'(x) = dF/dx, by autodiff of the primitive."""
        grad = jax.grad(lambda z: self.primitive(z, *self.params))
        return jnp.vectorize(grad)(x)


jax.tree_util.register_dataclass(Custom, data_fields=["params"], meta_fields=["primitive"])

# Spike functions whose call is a jax.custom_vjp (Strict's fast path).
_CUSTOM_VJP_SPIKES = (Sigmoid, ATan, Boxcar, Triangle, BPSA, FastSigmoid, PiecewiseQuadratic, Erf, SoftSign,
                      StraightThrough, Custom)


def from_primitive(primitive: Callable[..., Array], *params: ArrayLike) -> Custom:
    """A spike function with your own surrogate: Heaviside forward, ``d primitive(x, *params)/dx`` backward.

    Example (a soft-sign step; its derivative is :math:`(k/2)/(1 + k|x|)^2`, which is
    :func:`soft_sign` with α = k, not snnTorch's ``fast_sigmoid`` :math:`1/(1 + k|x|)^2`, a surrogate
    twice as high per unit k that :func:`fast_sigmoid` provides)::

        soft_step = surrogate.from_primitive(lambda x, k: 0.5 + 0.5 * x * k / (1 + jnp.abs(x * k)), 10.0)
    """
    return Custom(primitive, tuple(params))


SURROGATES: Registry[Callable[..., SpikeFunction]] = Registry("surrogate", {
    "sigmoid": sigmoid,
    "atan": atan,
    "boxcar": boxcar,
    "triangle": triangle,
    "bpsa": bpsa,
    "fast_sigmoid": fast_sigmoid,
    "superspike": superspike,
    "piecewise_quadratic": piecewise_quadratic,
    "erf": erf,
    "soft_sign": soft_sign,
    "straight_through": straight_through,
    "bpsa_code": bpsa_code,
})


def register(
    name: str, factory: Callable[..., SpikeFunction] | None = None, *, overwrite: bool = False
) -> Callable[..., SpikeFunction]:
    """Adds a surrogate by name: ``factory(param=default) -> spike function`` (its one parameter first).

    Also a decorator, ``@surrogate.register("name")``; an existing name is refused unless ``overwrite``.
    """
    return SURROGATES.register(name, factory, overwrite=overwrite)


def get(name: str, *args: ArrayLike, **params: ArrayLike) -> SpikeFunction:
    """Looks a spike function up by name, e.g. ``get("boxcar", width=0.2)`` or ``get("boxcar", 0.2)``."""
    return SURROGATES.lookup(name)(*args, **params)
