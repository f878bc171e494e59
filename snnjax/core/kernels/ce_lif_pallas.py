"""Multi-step CE-LIF as two fused Pallas kernels: one launch forward, one launch backward.

:func:`ce_lif_pallas` computes what :func:`snnjax.neurons.ce_lif` (the ``lax.scan`` reference)
computes, with the time loop inside the kernel (layout, blocks and backends as in
:mod:`snnjax.kernels.common`). CE-LIF is the neuron of the ce-lif paper (Chen, Wu, Tang, Ren,
Tan; its neuron section, whose equations are written out in ``docs/papers.md`` §3.1; its Seq-MNIST
net runs T = 784 steps). Forward, per neuron, in
float32 (:math:`c = 1`, or :math:`1 - k` with ``decay_input``):

.. math::
    u_t = k\\,v_{t-1} + c\\,x_t, \\qquad
    \\theta_t = \\rho\\,\\theta_{t-1} + (1 - \\rho)\\,\\theta_0 + u_{t-1}\\,\\mathrm{TE}_t, \\qquad
    s_t = H(u_t - \\theta_t),
.. math::
    v_t = \\mathrm{reset}(u_t, s_t, \\theta_t) + \\alpha (s_t - \\mathrm{sg}(s_t)),

with the carried state :math:`(v_{-1}, u_{-1}, \\theta_{-1})` (rest: :math:`(0, 0, \\theta_0)`).
``TE`` ``[T, ...]`` broadcasts against each step's input; it enters the kernel broadcast to
``[T, N]`` (float32) and its gradient is summed back over the broadcast axes outside. The forward
kernel saves :math:`u_t` and :math:`\\theta_t` (``[T, N]`` float32 each); the backward recomputes
:math:`s_t` and :math:`v_{t-1}` from them bit-for-bit.

Backward, with :math:`\\delta_v, \\delta_u, \\delta_\\theta` the running cotangents of the carried
:math:`v_t, u_t, \\theta_t` (starting from the final state's) and :math:`g, g_\\theta, g_\\vartheta`
the spike function's derivatives in :math:`u`, the threshold and its hyper-parameter, for
:math:`t = T-1, \\dots, 0`:

.. math::
    \\hat s &= \\bar s_t + \\delta_v\\,\\partial v_t/\\partial s_t, \\qquad
    \\partial v_t/\\partial s_t = \\alpha + \\{-u_t \\text{ hard}, -\\theta_t \\text{ soft}, 0 \\text{ detached}\\} \\\\
    \\hat u &= \\delta_u + \\delta_v\\,\\partial v_t/\\partial u_t + \\hat s\\,g, \\qquad
    \\hat\\theta = \\delta_\\theta + \\hat s\\,g_\\theta - [\\text{soft}]\\,\\delta_v s_t \\\\
    \\bar x_t &= c\\,\\hat u, \\quad \\bar k \\mathrel{+}= \\hat u\\,(v_{t-1} [- x_t]), \\quad
    \\overline{\\mathrm{TE}}_t = \\hat\\theta\\,u_{t-1}, \\quad
    \\bar\\rho \\mathrel{+}= \\hat\\theta\\,(\\theta_{t-1} - \\theta_0), \\quad
    \\bar\\theta_0 \\mathrel{+}= (1 - \\rho)\\,\\hat\\theta, \\quad \\bar\\vartheta \\mathrel{+}= \\hat s\\,g_\\vartheta \\\\
    \\delta_v &\\leftarrow k\\,\\hat u, \\qquad \\delta_u \\leftarrow \\mathrm{TE}_t\\,\\hat\\theta, \\qquad
    \\delta_\\theta \\leftarrow \\rho\\,\\hat\\theta,

and the initial state's cotangents are :math:`(\\delta_v, \\delta_u, \\delta_\\theta)` after step 0.

Status: equal to the scan in interpret mode (``tests/core/test_alif_ce_lif_pallas.py``); GPU not yet run.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from snnjax.core import surrogate
from snnjax.core.kernels.common import (
    ROW,
    SEQ,
    KernelConfig,
    as_row,
    call,
    charge,
    fire,
    make_config,
    pad_lanes,
    reset as reset_membrane,
    spike_input_grad,
    surrogate_grads,
    unpad,
)

Array = jax.Array
ArrayLike = jax.typing.ArrayLike


def _forward_kernel(x_ref, te_ref, v0_ref, u0_ref, th0_ref, k_ref, rho_ref, vth_ref, *out_refs,
                    cfg: KernelConfig, save: bool):
    s_ref, v_ref, u_ref, th_ref = out_refs[:4]
    k, r, v_th = k_ref[...], rho_ref[...], vth_ref[...]

    def step(t, carry):
        v, u_prev, th_prev = carry
        x = x_ref[pl.ds(t, 1), :].astype(jnp.float32)
        u = charge(v, x, k, cfg.decay_input)
        th = r * th_prev + (1 - r) * v_th + u_prev * te_ref[pl.ds(t, 1), :]
        s = fire(u, th)
        s_ref[pl.ds(t, 1), :] = s.astype(s_ref.dtype)
        if save:
            out_refs[4][pl.ds(t, 1), :] = u
            out_refs[5][pl.ds(t, 1), :] = th
        return reset_membrane(u, s, th, cfg.reset), u, th

    v, u, th = jax.lax.fori_loop(0, cfg.num_steps, step, (v0_ref[...], u0_ref[...], th0_ref[...]))
    v_ref[...] = v
    u_ref[...] = u
    th_ref[...] = th


def _backward_kernel(
    gs_ref, gv_ref, gu_ref, gth_ref, x_ref, te_ref, u_ref, th_ref, v0_ref, u0_ref, th0_ref,
    k_ref, rho_ref, vth_ref, alpha_ref, sur_ref,
    dx_ref, dte_ref, dv0_ref, du0_ref, dth0_ref, dk_ref, drho_ref, dvth_ref, dsur_ref, *, cfg: KernelConfig,
):
    k, r, v_th = k_ref[...], rho_ref[...], vth_ref[...]
    alpha, sur = alpha_ref[...], sur_ref[...]
    hard = cfg.reset == "hard"

    def step(t, prev, carry):
        """Step ``t`` with ``prev = (v, u, θ)`` at ``t - 1``; returns the carry for ``t - 1``."""
        v_prev, u_prev, th_prev = prev
        d_v, d_u, d_th, (d_k, d_rho, d_vth, d_sur) = carry
        u, th = u_ref[pl.ds(t, 1), :], th_ref[pl.ds(t, 1), :]
        s = fire(u, th)
        g, g_th, g_sur = surrogate_grads(cfg.spike_kind, u, s, th, sur)
        s_hat = gs_ref[pl.ds(t, 1), :].astype(jnp.float32) + d_v * (alpha + spike_input_grad(cfg, u, th))
        u_hat = d_u + (d_v * (1 - s) if hard else d_v) + s_hat * g
        th_hat = d_th + s_hat * g_th if hard else d_th + s_hat * g_th - d_v * s
        if cfg.decay_input:
            dx_ref[pl.ds(t, 1), :] = ((1 - k) * u_hat).astype(dx_ref.dtype)
            d_k = d_k + u_hat * (v_prev - x_ref[pl.ds(t, 1), :].astype(jnp.float32))
        else:
            dx_ref[pl.ds(t, 1), :] = u_hat.astype(dx_ref.dtype)
            d_k = d_k + u_hat * v_prev
        dte_ref[pl.ds(t, 1), :] = th_hat * u_prev
        d_rho = d_rho + th_hat * (th_prev - v_th)
        d_vth = d_vth + th_hat * (1 - r)
        d_sur = d_sur + s_hat * g_sur
        d_u = th_hat * te_ref[pl.ds(t, 1), :]
        return k * u_hat, d_u, r * th_hat, (d_k, d_rho, d_vth, d_sur)

    def body(i, carry):
        t = cfg.num_steps - 1 - i  # t = T-1 .. 1; step 0 (prev = the initial state) is peeled off
        u_prev, th_prev = u_ref[pl.ds(t - 1, 1), :], th_ref[pl.ds(t - 1, 1), :]
        v_prev = reset_membrane(u_prev, fire(u_prev, th_prev), th_prev, cfg.reset)
        return step(t, (v_prev, u_prev, th_prev), carry)

    zero = jnp.zeros_like(k)
    carry = (gv_ref[...], gu_ref[...], gth_ref[...], (zero,) * 4)
    carry = jax.lax.fori_loop(0, cfg.num_steps - 1, body, carry)
    d_v, d_u, d_th, acc = step(0, (v0_ref[...], u0_ref[...], th0_ref[...]), carry)
    dv0_ref[...] = d_v
    du0_ref[...] = d_u
    dth0_ref[...] = d_th
    for ref, value in zip((dk_ref, drho_ref, dvth_ref, dsur_ref), acc):
        ref[...] = value


def _forward_call(cfg, x, te, v0, u0, th0, k, rho, v_th, *, save: bool):
    outputs = [(SEQ, x.dtype)] + [(ROW, jnp.float32)] * 3 + ([(SEQ, jnp.float32)] * 2 if save else [])
    inputs = [(x, SEQ), (te, SEQ)] + [(a, ROW) for a in (v0, u0, th0, k, rho, v_th)]
    return call(functools.partial(_forward_kernel, cfg=cfg, save=save), cfg, "ce_lif_forward", inputs, outputs)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _ce_lif_2d(cfg, x, te, v0, u0, th0, k, rho, v_th, alpha, sur):
    """``[T, n]`` input and TE, ``[1, n]`` float32 rows -> ``(s [T, n], v_T, u_T, θ_T)``."""
    del alpha, sur  # backward-only
    return _forward_call(cfg, x, te, v0, u0, th0, k, rho, v_th, save=False)


def _ce_lif_2d_fwd(cfg, x, te, v0, u0, th0, k, rho, v_th, alpha, sur):
    s, v, u, th, u_seq, th_seq = _forward_call(cfg, x, te, v0, u0, th0, k, rho, v_th, save=True)
    return (s, v, u, th), (x, te, u_seq, th_seq, v0, u0, th0, k, rho, v_th, alpha, sur)


def _ce_lif_2d_bwd(cfg, residuals, cotangents):
    x, te, u_seq, th_seq, v0, u0, th0, k, rho, v_th, alpha, sur = residuals
    gs, gv, gu, gth = cotangents
    inputs = [(gs, SEQ), (gv, ROW), (gu, ROW), (gth, ROW), (x, SEQ), (te, SEQ), (u_seq, SEQ), (th_seq, SEQ)]
    inputs += [(a, ROW) for a in (v0, u0, th0, k, rho, v_th, alpha, sur)]
    dx, dte, dv0, du0, dth0, dk, drho, dvth, dsur = call(
        functools.partial(_backward_kernel, cfg=cfg), cfg, "ce_lif_backward", inputs,
        [(SEQ, x.dtype), (SEQ, jnp.float32)] + [(ROW, jnp.float32)] * 7,
    )
    return dx, dte, dv0, du0, dth0, dk, drho, dvth, jnp.zeros_like(alpha), dsur


_ce_lif_2d.defvjp(_ce_lif_2d_fwd, _ce_lif_2d_bwd)


def ce_lif_pallas(
    x_seq: Array,
    te: ArrayLike,
    *,
    decay: ArrayLike = 0.5,
    rho: ArrayLike = 0.99,
    v_th: ArrayLike = 0.3,
    spike_fn: Any = surrogate.Boxcar(0.2),
    v0: Array | None = None,
    u0: Array | None = None,
    theta0: Array | None = None,
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = False,
    interpret: bool | None = None,
    block_size: int | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
) -> tuple[Array, Array, Array, Array]:
    """Multi-step CE-LIF, ``x_seq [T, *shape], te [T, ...] -> (s_seq, v_T, u_T, theta_T)``.

    Same maths, arguments and gradients as :func:`snnjax.neurons.ce_lif` (module docstring), as a
    ``jax.custom_vjp`` of one forward and one backward ``pallas_call``. ``te[t]`` broadcasts
    against ``x_seq[t]``. The initial state ``(v0, u0, theta0)`` defaults to rest, ``(0, 0, v_th)``.
    ``x_seq``, ``te``, ``decay``, ``rho``, ``v_th``, the state and the surrogate's hyper-parameter
    are differentiable; ``spike_fn``, ``interpret``, ``block_size``, ``num_warps`` and
    ``num_stages`` as in :func:`snnjax.kernels.lif_pallas`.

    Returns:
        ``(s_seq, v_T, u_T, theta_T)``: spikes in ``x_seq``'s dtype; the final state in ``v0``'s
        dtype (``x_seq``'s when ``v0`` is None); computed in float32 throughout.
    """
    cfg, sur, n_pad = make_config(
        x_seq, spike_fn=spike_fn, reset=reset, detach_reset=detach_reset, decay_input=decay_input,
        interpret=interpret, block_size=block_size, num_warps=num_warps, num_stages=num_stages,
        kernel_name="ce_lif_pallas",
    )
    te = jnp.asarray(te)
    if te.ndim < 1 or te.shape[0] != x_seq.shape[0]:
        raise ValueError(
            f"te must have one row per time step: te.shape[0] == x_seq.shape[0] == {x_seq.shape[0]}, "
            f"got te.shape={te.shape}"
        )
    shape = tuple(x_seq.shape[1:])
    n = math.prod(shape)
    state_dtype = x_seq.dtype if v0 is None else v0.dtype
    x = pad_lanes(x_seq.reshape(cfg.num_steps, n), n_pad)
    if te.ndim > x_seq.ndim:
        raise ValueError(f"te[t] must broadcast against x_seq[t]; got te {te.shape} for x_seq {x_seq.shape}")
    # te[t] broadcasts against x_seq[t] by the trailing axes, as in the reference's step.
    te = te.astype(jnp.float32).reshape((cfg.num_steps,) + (1,) * (x_seq.ndim - te.ndim) + te.shape[1:])
    te_full = pad_lanes(jnp.broadcast_to(te, x_seq.shape).reshape(cfg.num_steps, n), n_pad)
    # Padded lanes (x = 0, TE = 0, θ = 1) never fire.
    rows = [
        as_row(0.0 if v0 is None else v0, shape, n_pad, 0.0),
        as_row(0.0 if u0 is None else u0, shape, n_pad, 0.0),
        as_row(v_th if theta0 is None else theta0, shape, n_pad, 1.0),
        as_row(decay, shape, n_pad, 1.0),
        as_row(rho, shape, n_pad, 1.0),
        as_row(v_th, shape, n_pad, 1.0),
        as_row(bpta_alpha, shape, n_pad, 0.0),
        as_row(sur, shape, n_pad, 1.0),
    ]
    s, v, u, th = _ce_lif_2d(cfg, x, te_full, *rows)
    s = unpad(s, n).reshape(x_seq.shape)
    v, u, th = (unpad(a, n).reshape(shape).astype(state_dtype) for a in (v, u, th))
    return s, v, u, th
