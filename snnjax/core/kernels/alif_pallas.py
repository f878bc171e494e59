"""Multi-step ALIF as two fused Pallas kernels: one launch forward, one launch backward.

:func:`alif_pallas` computes what :func:`snnjax.neurons.alif` (the ``lax.scan`` reference)
computes, with the time loop inside the kernel (layout, blocks and backends as in
:mod:`snnjax.kernels.common`). Forward, per neuron, in float32 (:math:`c = 1`, or :math:`1 - k`
with ``decay_input``; the adaptive threshold of Bellec et al. 2018, "Long short-term memory and
learning-to-learn in networks of spiking neurons", in the discrete form the ce-lif paper uses as
its baseline):

.. math::
    h_t = k\\,v_{t-1} + c\\,x_t, \\qquad \\vartheta_t = \\vartheta_0 + \\beta\\,\\eta_{t-1}, \\qquad
    s_t = H(h_t - \\vartheta_t),
.. math::
    v_t = \\mathrm{reset}(h_t, s_t, \\vartheta_t) + \\alpha (s_t - \\mathrm{sg}(s_t)), \\qquad
    \\eta_t = \\rho\\,\\eta_{t-1} + (1 - \\rho)\\,s_t.

The forward kernel saves :math:`h_t` and :math:`\\eta_{t-1}` (``[T, N]`` float32 each) for the
backward, which recomputes :math:`\\vartheta_t, s_t` and :math:`v_{t-1}` from them bit-for-bit.

Backward (the reverse-time recursion of the scan's autodiff). With :math:`\\delta_v, \\delta_\\eta`
the running cotangents of :math:`v_t, \\eta_t` (starting from those of the final state), :math:`g`,
:math:`g_\\vartheta` and :math:`g_\\theta` the spike function's derivatives in :math:`h`, the
threshold and its hyper-parameter, for :math:`t = T-1, \\dots, 0`:

.. math::
    \\hat s &= \\bar s_t + \\delta_v\\,\\partial v_t/\\partial s_t + (1 - \\rho)\\,\\delta_\\eta, \\qquad
    \\partial v_t/\\partial s_t = \\alpha + \\{-h_t \\text{ hard}, -\\vartheta_t \\text{ soft}, 0 \\text{ detached}\\} \\\\
    \\hat h &= \\delta_v\\,\\partial v_t/\\partial h_t + \\hat s\\,g, \\qquad
    \\hat\\vartheta = \\hat s\\,g_\\vartheta - [\\text{soft}]\\,\\delta_v s_t \\\\
    \\bar x_t &= c\\,\\hat h, \\quad \\bar k \\mathrel{+}= \\hat h\\,(v_{t-1} [- x_t]), \\quad
    \\bar\\vartheta_0 \\mathrel{+}= \\hat\\vartheta, \\quad \\bar\\beta \\mathrel{+}= \\hat\\vartheta\\,\\eta_{t-1}, \\quad
    \\bar\\rho \\mathrel{+}= \\delta_\\eta (\\eta_{t-1} - s_t), \\quad \\bar\\theta \\mathrel{+}= \\hat s\\,g_\\theta \\\\
    \\delta_v &\\leftarrow k\\,\\hat h, \\qquad \\delta_\\eta \\leftarrow \\rho\\,\\delta_\\eta + \\beta\\,\\hat\\vartheta,

and :math:`\\bar v_0 = \\delta_v`, :math:`\\bar\\eta_0 = \\delta_\\eta` after step 0. :math:`\\bar\\alpha = 0`.

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


def _forward_kernel(x_ref, v0_ref, eta0_ref, k_ref, rho_ref, beta_ref, vth_ref, *out_refs,
                    cfg: KernelConfig, save: bool):
    s_ref, v_ref, eta_ref = out_refs[:3]
    k, r, beta, v_th = k_ref[...], rho_ref[...], beta_ref[...], vth_ref[...]

    def step(t, carry):
        v, eta = carry
        x = x_ref[pl.ds(t, 1), :].astype(jnp.float32)
        h = charge(v, x, k, cfg.decay_input)
        theta = v_th + beta * eta
        s = fire(h, theta)
        s_ref[pl.ds(t, 1), :] = s.astype(s_ref.dtype)
        if save:
            out_refs[3][pl.ds(t, 1), :] = h
            out_refs[4][pl.ds(t, 1), :] = eta
        return reset_membrane(h, s, theta, cfg.reset), r * eta + (1 - r) * s

    v, eta = jax.lax.fori_loop(0, cfg.num_steps, step, (v0_ref[...], eta0_ref[...]))
    v_ref[...] = v
    eta_ref[...] = eta


def _backward_kernel(
    gs_ref, gv_ref, geta_ref, x_ref, h_ref, ep_ref, v0_ref, eta0_ref,
    k_ref, rho_ref, beta_ref, vth_ref, alpha_ref, sur_ref,
    dx_ref, dv0_ref, deta0_ref, dk_ref, drho_ref, dbeta_ref, dvth_ref, dsur_ref, *, cfg: KernelConfig,
):
    k, r, beta, v_th = k_ref[...], rho_ref[...], beta_ref[...], vth_ref[...]
    alpha, sur = alpha_ref[...], sur_ref[...]
    hard = cfg.reset == "hard"

    def post_reset(t):
        h = h_ref[pl.ds(t, 1), :]
        theta = v_th + beta * ep_ref[pl.ds(t, 1), :]
        return reset_membrane(h, fire(h, theta), theta, cfg.reset)

    def step(t, v_prev, carry):
        d_v, d_eta, (d_k, d_rho, d_beta, d_vth, d_sur) = carry
        h, eta_prev = h_ref[pl.ds(t, 1), :], ep_ref[pl.ds(t, 1), :]
        theta = v_th + beta * eta_prev
        s = fire(h, theta)
        g, g_th, g_sur = surrogate_grads(cfg.spike_kind, h, s, theta, sur)
        s_hat = gs_ref[pl.ds(t, 1), :].astype(jnp.float32) + d_v * (alpha + spike_input_grad(cfg, h, theta))
        s_hat = s_hat + d_eta * (1 - r)
        h_hat = (d_v * (1 - s) if hard else d_v) + s_hat * g
        th_hat = s_hat * g_th if hard else s_hat * g_th - d_v * s
        if cfg.decay_input:
            dx_ref[pl.ds(t, 1), :] = ((1 - k) * h_hat).astype(dx_ref.dtype)
            d_k = d_k + h_hat * (v_prev - x_ref[pl.ds(t, 1), :].astype(jnp.float32))
        else:
            dx_ref[pl.ds(t, 1), :] = h_hat.astype(dx_ref.dtype)
            d_k = d_k + h_hat * v_prev
        d_rho = d_rho + d_eta * (eta_prev - s)
        d_beta = d_beta + th_hat * eta_prev
        d_vth = d_vth + th_hat
        d_sur = d_sur + s_hat * g_sur
        return k * h_hat, r * d_eta + beta * th_hat, (d_k, d_rho, d_beta, d_vth, d_sur)

    def body(i, carry):
        t = cfg.num_steps - 1 - i  # t = T-1 .. 1; step 0 (v_prev = v0) is peeled off below
        return step(t, post_reset(t - 1), carry)

    zero = jnp.zeros_like(k)
    carry = (gv_ref[...], geta_ref[...], (zero,) * 5)
    carry = jax.lax.fori_loop(0, cfg.num_steps - 1, body, carry)
    d_v, d_eta, acc = step(0, v0_ref[...], carry)
    dv0_ref[...] = d_v
    deta0_ref[...] = d_eta
    for ref, value in zip((dk_ref, drho_ref, dbeta_ref, dvth_ref, dsur_ref), acc):
        ref[...] = value


def _forward_call(cfg, x, v0, eta0, k, rho, beta, v_th, *, save: bool):
    outputs = [(SEQ, x.dtype), (ROW, jnp.float32), (ROW, jnp.float32)]
    outputs += [(SEQ, jnp.float32)] * 2 if save else []
    inputs = [(x, SEQ)] + [(a, ROW) for a in (v0, eta0, k, rho, beta, v_th)]
    return call(functools.partial(_forward_kernel, cfg=cfg, save=save), cfg, "alif_forward", inputs, outputs)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _alif_2d(cfg, x, v0, eta0, k, rho, beta, v_th, alpha, sur):
    """``[T, n]`` input, ``[1, n]`` float32 rows -> ``(s [T, n], v_T, eta_T)``."""
    del alpha, sur  # backward-only
    return _forward_call(cfg, x, v0, eta0, k, rho, beta, v_th, save=False)


def _alif_2d_fwd(cfg, x, v0, eta0, k, rho, beta, v_th, alpha, sur):
    s, v, eta, h, eta_prev = _forward_call(cfg, x, v0, eta0, k, rho, beta, v_th, save=True)
    return (s, v, eta), (x, h, eta_prev, v0, eta0, k, rho, beta, v_th, alpha, sur)


def _alif_2d_bwd(cfg, residuals, cotangents):
    x, h, eta_prev, v0, eta0, k, rho, beta, v_th, alpha, sur = residuals
    gs, gv, geta = cotangents
    inputs = [(gs, SEQ), (gv, ROW), (geta, ROW), (x, SEQ), (h, SEQ), (eta_prev, SEQ)]
    inputs += [(a, ROW) for a in (v0, eta0, k, rho, beta, v_th, alpha, sur)]
    dx, dv0, deta0, dk, drho, dbeta, dvth, dsur = call(
        functools.partial(_backward_kernel, cfg=cfg), cfg, "alif_backward", inputs,
        [(SEQ, x.dtype)] + [(ROW, jnp.float32)] * 7,
    )
    return dx, dv0, deta0, dk, drho, dbeta, dvth, jnp.zeros_like(alpha), dsur


_alif_2d.defvjp(_alif_2d_fwd, _alif_2d_bwd)


def alif_pallas(
    x_seq: Array,
    *,
    decay: ArrayLike = 0.5,
    rho: ArrayLike = 0.99,
    beta: ArrayLike = 1.8,
    v_th: ArrayLike = 1.0,
    spike_fn: Any = surrogate.Sigmoid(),
    v0: Array | None = None,
    eta0: Array | None = None,
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = False,
    interpret: bool | None = None,
    block_size: int | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
) -> tuple[Array, Array, Array]:
    """Multi-step ALIF, ``x_seq [T, *shape] -> (s_seq [T, *shape], v_T, eta_T)``, in two kernels.

    Same maths, arguments and gradients as :func:`snnjax.neurons.alif` (module docstring), as a
    ``jax.custom_vjp`` of one forward and one backward ``pallas_call``. ``decay``, ``rho``,
    ``beta``, ``v_th``, ``v0``, ``eta0`` and the surrogate's hyper-parameter are differentiable and
    broadcast against ``shape``; ``spike_fn``, ``interpret``, ``block_size``, ``num_warps`` and
    ``num_stages`` as in :func:`snnjax.kernels.lif_pallas`.

    Returns:
        ``(s_seq, v_T, eta_T)``: spikes in ``x_seq``'s dtype, the final membrane and adaptation
        trace in ``v0``'s dtype (``x_seq``'s when ``v0`` is None); computed in float32 throughout.
    """
    cfg, sur, n_pad = make_config(
        x_seq, spike_fn=spike_fn, reset=reset, detach_reset=detach_reset, decay_input=decay_input,
        interpret=interpret, block_size=block_size, num_warps=num_warps, num_stages=num_stages,
        kernel_name="alif_pallas",
    )
    shape = tuple(x_seq.shape[1:])
    n = math.prod(shape)
    state_dtype = x_seq.dtype if v0 is None else v0.dtype
    x = pad_lanes(x_seq.reshape(cfg.num_steps, n), n_pad)
    # Padded lanes (x = 0, k = 1, v_th = 1) never fire.
    rows = [
        as_row(0.0 if v0 is None else v0, shape, n_pad, 0.0),
        as_row(0.0 if eta0 is None else eta0, shape, n_pad, 0.0),
        as_row(decay, shape, n_pad, 1.0),
        as_row(rho, shape, n_pad, 1.0),
        as_row(beta, shape, n_pad, 1.0),
        as_row(v_th, shape, n_pad, 1.0),
        as_row(bpta_alpha, shape, n_pad, 0.0),
        as_row(sur, shape, n_pad, 1.0),
    ]
    s, v, eta = _alif_2d(cfg, x, *rows)
    s, v, eta = unpad(s, n), unpad(v, n), unpad(eta, n)
    return s.reshape(x_seq.shape), v.reshape(shape).astype(state_dtype), eta.reshape(shape).astype(state_dtype)
