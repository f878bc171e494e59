"""The pieces every neuron is made of: charge, fire, reset, and the BPTA temporal residual.

One step of a leaky neuron (llc-lif paper §3.1; bpsa-bpta paper, Eq. 1–3):

.. math::
    h_t = k\\,v_{t-1} + x_t                       \\quad\\text{(charge, explicit iterative form)}
    s_t = H(h_t - \\vartheta_t)                      \\quad\\text{(fire)}
    v_t = h_t\\,(1 - s_t)                           \\quad\\text{(hard reset to 0; soft: } h_t - s_t\\vartheta_t)

so that :math:`u[t+1] = k\\,u[t]\\,(1 - o[t]) + I[t+1]` with :math:`u = h` the membrane before reset.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array
ArrayLike = jax.typing.ArrayLike

RESET_MODES = ("hard", "soft")


def check_float(x: ArrayLike, name: str = "x") -> None:
    """Neurons compute in floating point: an integer or boolean input or state is an error.

    The membrane takes the input's dtype (``docs/design.md``), so an integer input would cast a
    decay of 0.9 to 0 and a threshold of 2.5 to 2 and give wrong spikes silently. Every neuron
    calls this through :func:`check_sequence` (multi-step) and :func:`charge` (single step), so a
    new neuron built from these helpers gets the check too.

    Raises:
        TypeError: ``x``'s dtype is not a floating-point type.
    """
    dtype = jnp.result_type(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"{name} has dtype {dtype}; spiking neurons compute in floating point (an integer membrane "
            f"would truncate the decay and the threshold): pass {name}.astype(jnp.float32)"
        )


def as_dtype(value: ArrayLike, like: Array) -> Array:
    """``value`` cast to ``like``'s dtype and, unless scalar, broadcast to its shape.

    Explicit, so the neurons also run under ``jax_numpy_dtype_promotion="strict"`` and
    ``jax_numpy_rank_promotion="raise"``; gradients flow through the cast and the broadcast.
    ``like`` must be floating point (:func:`check_float`): casting 0.9 to an integer gives 0.
    """
    check_float(like, "the neuron's membrane")
    value = jnp.asarray(value).astype(like.dtype)
    return value if value.ndim == 0 else jnp.broadcast_to(value, like.shape)


def charge(v: Array, x: Array, decay: ArrayLike, decay_input: bool = False) -> Array:
    """Integrates input ``x`` into the post-reset membrane ``v``.

    .. math::  h = k\\,v + x \\quad\\text{or, with decay_input,}\\quad h = k\\,v + (1 - k)\\,x

    The second form is SpikingJelly's ``decay_input=True`` LIF, ``h = v + (x - v)/τ``, with
    ``k = 1 - 1/τ``.
    """
    check_float(v, "the membrane state")
    check_float(x, "the input x_t")
    k = as_dtype(decay, v)
    x = x.astype(v.dtype)
    if decay_input:
        return k * v + (1 - k) * x
    return k * v + x


def reset_membrane(h: Array, s: Array, v_th: ArrayLike, mode: str, detach: bool) -> Array:
    """Resets the membrane ``h`` where ``s`` fired.

    ``mode="hard"``: :math:`v = h (1 - s)` (to 0); ``mode="soft"``: :math:`v = h - s\\,\\vartheta`.
    With ``detach=True`` the reset uses ``stop_gradient(s)`` (SpikingJelly's ``detach_reset``).
    """
    if detach:
        s = jax.lax.stop_gradient(s)
    if mode == "hard":
        return h * (1 - s)
    if mode == "soft":
        return h - s * as_dtype(v_th, h)
    raise ValueError(f"reset must be one of {RESET_MODES}, got {mode!r}")


def temporal_residual(v: Array, s: Array, bpta_alpha: ArrayLike) -> Array:
    """BPTA (bpsa-bpta paper, Eq. 10): a gradient-only path from ``s[t]`` into the next membrane.

    .. math::  v_t \\leftarrow v_t + \\alpha\\,(s_t - \\mathrm{sg}(s_t))

    The added term is exactly 0 in the forward pass. Through the next charge
    :math:`h_{t+1} = \\lambda v_t + x_{t+1}` it adds :math:`\\lambda\\alpha` to
    :math:`\\partial h_{t+1}/\\partial s_t`, hence :math:`\\lambda\\alpha\\,g'(u[t+1])` to
    :math:`\\partial o[t+1]/\\partial o[t]`, past the reset. Added after the reset, as in the
    authors' code (``u += 0.2 (s - s.detach())`` before the decay); the text uses α = 0.8, the code 0.2.
    """
    if isinstance(bpta_alpha, (int, float)) and bpta_alpha == 0:
        return v
    return v + as_dtype(bpta_alpha, v) * (s - jax.lax.stop_gradient(s))


def check_reset(reset: str) -> None:
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")


def check_sequence(x_seq: Array, name: str = "x_seq") -> None:
    """``x_seq`` is a floating-point sequence ``[T, ...]`` with ``T >= 1``."""
    check_float(x_seq, name)
    if jnp.ndim(x_seq) < 1:
        raise ValueError(f"{name} must have a leading time axis [T, ...]; got a scalar")
    if x_seq.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one time step; got shape {x_seq.shape}")



def check_state(neuron: str, state: tuple | None, x: Array, *, fields: tuple[str, ...], init: str,
                sequence: bool = False) -> None:
    """``state`` fits the input: the neuron's fields, each of one input step's shape, no narrower dtype.

    A state of another rank would broadcast silently (a ``[6, 3, 5]`` LIF state against ``x_t:
    [3, 5]`` gives ``[6, 3, 5]`` spikes per step), and a narrower dtype would compute the membrane
    in it: a float16 state with float32 input runs the whole membrane in float16. The dtype rule
    (``docs/design.md``) is that the membrane has the input's dtype, or a wider one the caller asks
    for (bfloat16 currents with a float32 state); a narrower state is refused, not cast, since
    casting would change the state's dtype between steps and break ``lax.scan``'s carry.
    Shapes and dtypes are static, so this runs once while tracing and costs nothing per step.

    Args:
        neuron: the public function's name, for the message (``"lif"``, ``"alif_step"``...).
        state: the neuron's state (a NamedTuple of arrays), or None (rest: nothing to check).
        x: the input: ``x_t [B, ...]`` for a single step, ``x_seq [T, B, ...]`` with ``sequence``.
        fields: the state's fields, e.g. ``ALIFState._fields``.
        init: the function that makes a resting state, named in the message (``"alif_init_state"``).
        sequence: ``x`` is a sequence; the expected shape is ``x.shape[1:]``.

    Raises:
        ValueError: the state has other fields, or a field's shape differs from one input step's.
        TypeError: a field is not floating point, or narrower than the input's dtype.
    """
    if state is None:
        return
    names = tuple(getattr(state, "_fields", ()))
    if names != tuple(fields) and not (not names and isinstance(state, tuple) and len(state) == len(fields)):
        raise ValueError(f"{neuron}: state must have the fields {list(fields)}, got {type(state).__name__} "
                         f"{list(names) if names else ''}; start from {init}(shape) or the state {neuron} returned")
    expected = tuple(jnp.shape(x)[1:] if sequence else jnp.shape(x))
    x_dtype = jnp.result_type(x)
    layout = "x_seq is [T, B, ...] and the state [B, ...]" if sequence else "the state has x_t's shape [B, ...]"
    for name, value in zip(fields, state):
        shape = tuple(jnp.shape(value))
        if shape != expected:
            raise ValueError(
                f"{neuron}: state.{name} has shape {shape}, expected {expected} ({layout}); a state of "
                f"another shape would broadcast against the input: pass the state {neuron} returned for "
                f"this batch, or {init}({expected})"
            )
        check_float(value, "the membrane state")
        dtype = jnp.result_type(value)
        if not jnp.issubdtype(x_dtype, jnp.floating):
            continue  # an integer input: check_float names it where it is read
        with jax.numpy_dtype_promotion("standard"):  # the lattice, also under strict promotion
            narrower = jnp.promote_types(dtype, x_dtype) != dtype
        if narrower:
            raise TypeError(
                f"{neuron}: state.{name} has dtype {dtype}, narrower than the input's {x_dtype}, so the "
                f"membrane would be computed in {dtype}; pass the state in {x_dtype} or wider, e.g. "
                f"jax.tree.map(lambda a: a.astype(jnp.{x_dtype}), state)"
            )
