"""Neurons whose recurrence is linear, computed in parallel over time.

A leaky integrator, and a LIF without reset, run the affine recurrence

.. math::  h_t = a_t\\,h_{t-1} + b_t, \\qquad a_t = k, \\quad b_t = x_t \\;\\text{(or } (1 - k)\\,x_t
           \\text{ with decay_input)},

which is the composition of the affine maps :math:`f_t(h) = a_t h + b_t`. Composition is
associative, :math:`(a_2, b_2) \\circ (a_1, b_1) = (a_2 a_1,\\; a_2 b_1 + b_2)`, so all T prefixes
:math:`h_t = (f_t \\circ \\dots \\circ f_1)(h_0)` come out of one ``jax.lax.associative_scan`` in
:math:`O(\\log T)` sequential depth instead of a ``lax.scan``'s T steps (Blelloch 1990, "Prefix sums
and their applications"; Martin & Cundy 2018, "Parallelizing linear recurrent neural nets over
sequence length"). A carried state :math:`h_0` is folded into the first element,
:math:`b_1 \\leftarrow a_1 h_0 + b_1`, so a sequence run in chunks equals one call. The results
equal the sequential forms (:func:`snnjax.neurons.li`, :func:`lif_no_reset` with ``impl="scan"``)
within rounding: the scan adds the same terms in another order (``tests/core/test_neurons_parallel.py``:
1e-12 in float64). A reset makes the recurrence depend on the spikes, so LIF with reset, ALIF and
CE-LIF stay sequential. On a CPU the sequential scan is the faster of the two (3–9× at T = 3,000 on
2 cores, ``docs/performance.md``, ``python -m bench.parallel_neurons``); the associative form is for
accelerators, where T sequential steps cost T rounds of small kernels.

:func:`psn` is SpikingJelly's parallel spiking neuron, which has no recurrence at all: a learnable
``[T, T]`` mixing of the inputs over time. Shapes are time-major, ``[T, *shape]``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from snnjax.core import surrogate
from snnjax.core.neurons import dynamics
from snnjax.core.neurons.li import LIState, li_init_state
from snnjax.core.neurons.lif import LIFState, lif_init_state

Array = jax.Array

LIF_NO_RESET_IMPLS = ("associative", "scan")


def _compose(earlier: tuple[Array, Array], later: tuple[Array, Array]) -> tuple[Array, Array]:
    """``later ∘ earlier`` for affine maps ``h -> a h + b``: ``(a2 a1, a2 b1 + b2)``."""
    a1, b1 = earlier
    a2, b2 = later
    return a2 * a1, a2 * b1 + b2


@jax.custom_vjp
def affine_scan(a: Array, b: Array) -> Array:
    """:math:`h_t = a_t h_{t-1} + b_t` for ``t = 0..T-1`` from :math:`h_{-1} = 0`, by one associative scan
    over the leading axis (``a``, ``b`` and ``h`` all ``[T, ...]``).

    Its backward pass is the adjoint recurrence, run backwards in time as one more associative scan:

    .. math::  \\bar b_t = \\bar h_t + a_{t+1}\\,\\bar b_{t+1}, \\qquad \\bar a_t = \\bar b_t\\,h_{t-1},

    with :math:`\\bar b_{T-1} = \\bar h_{T-1}` and :math:`h_{-1} = 0` (differentiate
    :math:`h_t = a_t h_{t-1} + b_t`: :math:`\\bar b_t = \\partial L/\\partial h_t` in full, which collects
    :math:`\\bar h_t` and what flows back from :math:`h_{t+1}` through :math:`a_{t+1}`). Letting JAX
    differentiate the scan's slices and pads instead took twice as long on a 2-core CPU (T = 784 and
    3,000). A custom VJP, so forward mode (``jax.jvp``) is not defined, as for the spike functions.
    """
    return jax.lax.associative_scan(_compose, (a, b), axis=0)[1]


def _affine_scan_fwd(a: Array, b: Array) -> tuple[Array, tuple[Array, Array]]:
    h = affine_scan(a, b)
    return h, (a, h)


def _affine_scan_bwd(residuals: tuple[Array, Array], h_bar: Array) -> tuple[Array, Array]:
    a, h = residuals
    a_next = jnp.concatenate([a[1:], jnp.zeros_like(a[:1])])
    b_bar = jax.lax.associative_scan(_compose, (a_next, h_bar), axis=0, reverse=True)[1]
    h_prev = jnp.concatenate([jnp.zeros_like(h[:1]), h[:-1]])
    return b_bar * h_prev, b_bar


affine_scan.defvjp(_affine_scan_fwd, _affine_scan_bwd)


def linear_recurrence(x_seq: Array, h0: Array, *, decay: ArrayLike, decay_input: bool = False) -> Array:
    """All of :math:`h_t = k h_{t-1} + x_t` (or :math:`k h_{t-1} + (1 - k) x_t`), ``t = 1..T``, by one
    associative scan.

    Args:
        x_seq: inputs ``[T, *shape]`` (floating point).
        h0: the state before the first step, ``[*shape]``.
        decay: the leak ``k``, a scalar or an array broadcasting against ``x_seq[0]`` (per channel).
        decay_input: SpikingJelly's ``decay_input=True`` form, :math:`h_t = k h_{t-1} + (1 - k) x_t`.

    Returns:
        ``h_seq [T, *shape]`` in ``x_seq``'s dtype; ``h_seq[t]`` is the membrane after step ``t``.
    """
    dynamics.check_sequence(x_seq)
    dynamics.check_float(h0, "the membrane state")
    h0 = h0.astype(x_seq.dtype)
    a = jnp.broadcast_to(dynamics.as_dtype(decay, x_seq[0]), x_seq.shape)
    b = (1 - a) * x_seq if decay_input else x_seq
    b = b.at[0].add(a[0] * h0)  # h_1 = k h_0 + b_1: the carried state enters through the first map
    return affine_scan(a, b)


def li_parallel(x_seq: Array, *, decay: ArrayLike, state: LIState | None = None,
                decay_input: bool = False) -> tuple[Array, LIState]:
    """The leaky integrator of :func:`snnjax.neurons.li` by an associative scan over time.

    .. math::  v_t = k\\,v_{t-1} + x_t \\quad\\text{or, with decay_input,}\\quad v_t = k\\,v_{t-1} + (1 - k)\\,x_t

    (Spyx ``nn.LI``; SpikingJelly ``NonSpikingLIFNode(tau)`` with ``k = 1 - 1/τ`` and decay_input).

    Args:
        x_seq: input currents ``[T, *shape]``.
        decay: the leak ``k`` (scalar, or broadcasting against ``x_seq[0]``); differentiable.
        state: ``LIState(v [*shape])`` to continue from (default: rest, ``v = 0``).
        decay_input: the ``(1 - k) x`` input scaling.

    Returns:
        ``(v_seq [T, *shape], LIState(v_seq[-1]))``, equal to ``neurons.li`` within rounding.
    """
    dynamics.check_sequence(x_seq)
    dynamics.check_state("li_parallel", state, x_seq, fields=LIState._fields, init="li_init_state", sequence=True)
    if state is None:
        state = li_init_state(x_seq.shape[1:], x_seq.dtype)
    v_seq = linear_recurrence(x_seq, state.v, decay=decay, decay_input=decay_input)
    return v_seq, LIState(v_seq[-1])


def lif_no_reset_step(state: LIFState, x_t: Array, *, decay: ArrayLike, v_th: ArrayLike = 1.0,
                      spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
                      decay_input: bool = False) -> tuple[LIFState, Array]:
    """One step of a LIF without reset, ``(state, x_t) -> (state, s_t)``: charge and fire only.

    .. math::  h_t = k\\,h_{t-1} + x_t, \\qquad s_t = H(h_t - v_\\mathrm{th}), \\qquad v_t = h_t

    (:func:`snnjax.neurons.lif_step` with the reset left out). The sequential reference of
    :func:`lif_no_reset`.
    """
    dynamics.check_state("lif_no_reset_step", state, x_t, fields=LIFState._fields, init="lif_init_state")
    h = dynamics.charge(state.v, x_t, decay, decay_input)
    s = spike_fn(h, dynamics.as_dtype(v_th, h))
    return LIFState(h), s.astype(x_t.dtype)


def lif_no_reset(
    x_seq: Array,
    *,
    decay: ArrayLike,
    v_th: ArrayLike = 1.0,
    spike_fn: surrogate.SpikeFunction = surrogate.Sigmoid(),
    state: LIFState | None = None,
    decay_input: bool = False,
    impl: str = "associative",
    unroll: int = 1,
) -> tuple[Array, LIFState]:
    """LIF neurons without reset over a sequence: ``x_seq [T, *shape] -> (s_seq [T, *shape], LIFState)``.

    .. math::  h_t = k\\,h_{t-1} + x_t \\;(\\text{or } k\\,h_{t-1} + (1 - k)\\,x_t), \\qquad
               s_t = H(h_t - v_\\mathrm{th})

    The membrane never depends on the spikes, so it is the linear recurrence of
    :func:`linear_recurrence`; the spikes are then ``spike_fn(h_seq, v_th)`` over all steps at once,
    elementwise, exactly what the step :func:`lif_no_reset_step` computes one step at a time. The
    gradient is the same function's: through the surrogate at every step and back along the
    membrane by ``k`` per step.

    Args:
        x_seq: input currents ``[T, *shape]``.
        decay: the leak ``k`` (scalar, or broadcasting against ``x_seq[0]``); differentiable.
        v_th: threshold; a spike is ``h >= v_th`` (scalar, or broadcasting against ``x_seq[0]``).
        spike_fn: the spike function (any surrogate, BPSA included).
        state: ``LIFState(v)`` to continue from (default: rest); ``v`` is the membrane after the
            last step (no reset: the same as before it).
        decay_input: SpikingJelly's ``h = k v + (1 - k) x``.
        impl: ``"associative"`` (``jax.lax.associative_scan``) or ``"scan"`` (``lax.scan`` of
            :func:`lif_no_reset_step`, the reference).
        unroll: ``lax.scan``'s unroll factor with ``impl="scan"``; ignored otherwise.

    Returns:
        ``(s_seq, LIFState(h_T))`` with ``s_seq`` of ``x_seq``'s dtype.
    """
    dynamics.check_sequence(x_seq)
    if impl not in LIF_NO_RESET_IMPLS:
        raise ValueError(f"impl must be one of {LIF_NO_RESET_IMPLS}, got {impl!r}")
    dynamics.check_state("lif_no_reset", state, x_seq, fields=LIFState._fields, init="lif_init_state", sequence=True)
    if state is None:
        state = lif_init_state(x_seq.shape[1:], x_seq.dtype)
    if impl == "scan":
        step = functools.partial(lif_no_reset_step, decay=decay, v_th=v_th, spike_fn=spike_fn,
                                 decay_input=decay_input)
        state, s_seq = jax.lax.scan(step, state, x_seq, unroll=unroll)
        return s_seq, state
    h_seq = linear_recurrence(x_seq, state.v, decay=decay, decay_input=decay_input)
    # v_th broadcast against one step, then over time, as the step broadcasts it against h_t.
    v_th = dynamics.as_dtype(v_th, h_seq[0])
    s_seq = spike_fn(h_seq, v_th if v_th.ndim == 0 else jnp.broadcast_to(v_th, h_seq.shape))
    return s_seq.astype(x_seq.dtype), LIFState(h_seq[-1])


def psn_init(key: Array, num_steps: int, dtype: Any = jnp.float32) -> tuple[Array, Array]:
    """SpikingJelly's initial PSN parameters: ``weight [T, T]`` and ``bias [T]``.

    The weight is PyTorch's ``kaiming_uniform_(a=√5)`` of a ``[T, T]`` matrix, uniform on
    :math:`\\pm 1/\\sqrt{T}`; the bias is -1 (a threshold of 1, see :func:`psn`).
    """
    bound = 1.0 / jnp.sqrt(jnp.asarray(num_steps, dtype))
    weight = jax.random.uniform(key, (num_steps, num_steps), dtype, -bound, bound)
    return weight, jnp.full((num_steps,), -1.0, dtype)


def psn(x_seq: Array, weight: ArrayLike, bias: ArrayLike, *,
        spike_fn: surrogate.SpikeFunction = surrogate.ATan()) -> tuple[Array, None]:
    """The parallel spiking neuron (PSN) of Fang et al., "Parallel Spiking Neurons with High
    Efficiency and Ability to Learn Long-term Dependencies" (NeurIPS 2023, arXiv:2304.12760):

    .. math::  H = W X + B, \\qquad S = \\Theta(H), \\qquad W \\in \\mathbb{R}^{T \\times T},\\;
               X \\in \\mathbb{R}^{T \\times N},\\; B \\in \\mathbb{R}^{T},

    i.e. :math:`H[t] = \\sum_{t'} W[t, t']\\,X[t'] + B[t]`: every step's membrane is a learnable
    mixture of all T inputs (future ones too, unless ``W`` is lower triangular), with no reset and no
    recurrence, so the whole layer is one ``[T, T] × [T, N]`` matrix product. This is what
    SpikingJelly's ``activation_based.neuron.PSN.forward`` computes,
    ``surrogate_function(addmm(bias, weight, x_seq.flatten(1)))``; its docstring writes
    :math:`S = \\Theta(WX - B)` with :math:`B` the threshold, while its code *adds* ``bias``
    (initialised to -1, a threshold of 1). We follow the code: ``bias`` is minus the threshold.

    Args:
        x_seq: inputs ``[T, *shape]``; ``T`` is fixed by the weight.
        weight: ``W [T, T]``, learnable (:func:`psn_init` gives SpikingJelly's initialisation).
        bias: ``B [T]``, one per time step, learnable (minus the threshold).
        spike_fn: the spike function, fired at ``H >= 0`` (SpikingJelly's default surrogate ``ATan(α=2)``).

    Returns:
        ``(s_seq [T, *shape], None)``: a PSN has no state to carry, since its weight ties all T steps
        of one window together (a longer sequence is not T-step chunks of it), so the second value
        is None, kept so the call unpacks as every neuron's does.
    """
    dynamics.check_sequence(x_seq)
    num_steps = x_seq.shape[0]
    weight = jnp.asarray(weight).astype(x_seq.dtype)
    bias = jnp.asarray(bias).astype(x_seq.dtype)
    if weight.shape != (num_steps, num_steps) or bias.shape != (num_steps,):
        raise ValueError(f"psn: x_seq has T = {num_steps} steps, so weight must be [{num_steps}, {num_steps}] and "
                         f"bias [{num_steps}]; got {weight.shape} and {bias.shape}")
    h = jnp.tensordot(weight, x_seq, axes=1, precision=jax.lax.Precision.HIGHEST)
    h = h + jnp.broadcast_to(bias.reshape((num_steps,) + (1,) * (x_seq.ndim - 1)), h.shape)
    return spike_fn(h).astype(x_seq.dtype), None
