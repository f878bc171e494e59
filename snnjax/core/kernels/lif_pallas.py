"""Multi-step LIF as two fused Pallas kernels: one launch forward, one launch backward.

:func:`lif_pallas` computes exactly what :func:`snnjax.neurons.lif` (the ``lax.scan`` reference)
computes, with the time loop *inside* the kernel instead of one XLA while-loop iteration per step.
The neurons are independent, so the grid runs over blocks of ``block_size`` neurons and each
program walks all ``T`` steps of its block with a ``jax.lax.fori_loop``, reading and writing one
``[1, block_size]`` row per step (SpikingJelly's fused CUDA LIF kernels have the same shape).

Layout: ``x_seq [T, *shape]`` is flattened to ``[T, N]``, ``N = prod(shape)``, and padded to a
multiple of the block size when ``N`` is not one. Every per-neuron parameter (``decay``, ``v_th``,
``bpta_alpha``, the surrogate's hyper-parameter) is broadcast to one ``[1, N]`` float32 row, so a
scalar, a per-channel vector and a full per-neuron array take the same path, and their gradients
are accumulated per neuron in the kernel and summed back to the parameter's shape outside it (by
the transpose of the broadcast).

Forward, per neuron (float32 whatever the input dtype; :math:`c = 1`, or :math:`1 - k` with
``decay_input``):

.. math::
    h_t = k\\,v_{t-1} + c\\,x_t, \\qquad s_t = H(h_t - \\vartheta), \\qquad
    v_t = \\begin{cases} h_t (1 - s_t) & \\text{hard} \\\\ h_t - s_t\\vartheta & \\text{soft}\\end{cases}
          \\; + \\alpha (s_t - \\mathrm{sg}(s_t)),

with :math:`v_{-1} = v_0`. The BPTA term is 0 in value and is not computed forward. The forward
kernel saves the pre-reset membrane :math:`h` ``[T, N]`` (float32), like SpikingJelly's fused
kernels; everything else the backward needs is recomputed from it bit-for-bit
(:math:`s_t = H(h_t - \\vartheta)`, :math:`v_{t-1} = \\mathrm{reset}(h_{t-1}, s_{t-1})`). When no
gradient is taken (the primal of the ``custom_vjp``) ``h`` is not written at all.

Backward: the exact reverse-time recursion of the reference scan's autodiff. Write
:math:`\\bar s_t` for the incoming cotangent of spike ``t``, :math:`\\bar v_T` for that of the
final state, :math:`g_t` for the spike's derivative in ``h`` and :math:`\\delta` for the running
cotangent of the post-reset membrane. Partial derivatives of one step:

.. math::
    \\partial v_t/\\partial h_t &= 1 - s_t \\;(\\text{hard}), \\quad 1 \\;(\\text{soft}) \\\\
    \\partial v_t/\\partial s_t &= \\alpha + \\begin{cases} 0 & \\text{detach\\_reset} \\\\
        -h_t & \\text{hard} \\\\ -\\vartheta & \\text{soft} \\end{cases} \\\\
    g_t = \\partial s_t/\\partial h_t &= F'(h_t - \\vartheta) \\;(\\text{surrogate}), \\quad
        s_t\\,\\mathrm{sign}(h_t)/\\max(|h_t|, \\epsilon) \\;(\\text{BPSA}) \\\\
    \\partial h_t/\\partial v_{t-1} &= k, \\quad \\partial h_t/\\partial x_t = c, \\quad
    \\partial h_t/\\partial k = v_{t-1} \\;(\\text{or } v_{t-1} - x_t \\text{ with decay\\_input})

Starting from :math:`\\delta = \\bar v_T` and zero accumulators, for :math:`t = T-1, \\dots, 0`:

1. :math:`\\hat s_t = \\bar s_t + \\delta\\,\\partial v_t/\\partial s_t` (total cotangent of the spike);
2. :math:`\\hat h_t = \\delta\\,\\partial v_t/\\partial h_t + \\hat s_t\\,g_t`
   (total cotangent of the pre-reset membrane);
3. :math:`\\bar x_t = c\\,\\hat h_t`;
4. :math:`\\bar k \\mathrel{+}= \\hat h_t\\,\\partial h_t/\\partial k`;
5. :math:`\\bar\\vartheta \\mathrel{+}= -\\hat s_t\\,F'(h_t - \\vartheta)` (surrogates; 0 for BPSA)
   :math:`\\;-\\;\\delta\\,s_t` (soft reset, detached or not: ``v = h - sg(s)·θ`` still depends on θ);
6. :math:`\\bar\\theta \\mathrel{+}= \\hat s_t\\,\\partial F(h_t - \\vartheta; \\theta)/\\partial\\theta`
   (the surrogate's hyper-parameter; 0 for BPSA);
7. :math:`\\delta \\leftarrow k\\,\\hat h_t` (the cotangent of :math:`v_{t-1}`).

After step 0, :math:`\\bar v_0 = \\delta`. :math:`\\bar\\alpha = 0` exactly (its forward term is
``s - sg(s) = 0``). One backward program holds :math:`\\delta, h_t` and the three accumulators in
registers and reads :math:`\\bar s_t, h_{t-1}` (and :math:`x_t` with ``decay_input``) per step.

Backends: on GPU the kernels are compiled with Pallas's Triton backend (selected explicitly with
``jax.experimental.pallas.triton.CompilerParams``: without it JAX >= 0.10 lowers ``pallas_call``
on GPU to Mosaic GPU, a different programming model this kernel is not written for); elsewhere they
run in Pallas interpret mode, which is how the CPU tests check them. JAX 0.11 deprecates the Pallas
Triton backend (it warns when lowering); a Mosaic GPU port would be the way forward if it goes.

Status: correct in interpret mode (equal to the scan in the CPU tests); GPU speed not yet measured.
Pallas's Triton lowering of both kernels is checked without a GPU (a cross-platform lowering for
CUDA); compiling that Triton IR and running it on a GPU have not been done yet.
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
    auto_block_size,
    call,
    charge as _charge,
    fire as _fire,
    make_config,
    pad_lanes,
    reset as _reset,
    surrogate_grads as _surrogate_grads,
    unpad,
)

Array = jax.Array
ArrayLike = jax.typing.ArrayLike

_Config = KernelConfig
_DEFAULT_SPIKE_FN = surrogate.Sigmoid()


# --- kernels ------------------------------------------------------------------------------------


def _forward_kernel(x_ref, v0_ref, k_ref, vth_ref, *out_refs, cfg: _Config, save_h: bool):
    if save_h:
        s_ref, v_ref, h_ref = out_refs
    else:
        (s_ref, v_ref), h_ref = out_refs, None
    k = k_ref[...]
    v_th = vth_ref[...]

    def step(t, v):
        x = x_ref[pl.ds(t, 1), :].astype(jnp.float32)
        h = _charge(v, x, k, cfg.decay_input)
        s = _fire(h, v_th)
        s_ref[pl.ds(t, 1), :] = s.astype(s_ref.dtype)
        if save_h:
            h_ref[pl.ds(t, 1), :] = h
        return _reset(h, s, v_th, cfg.reset)

    v_ref[...] = jax.lax.fori_loop(0, cfg.num_steps, step, v0_ref[...])


def _backward_kernel(
    gs_ref, gv_ref, x_ref, h_ref, v0_ref, k_ref, vth_ref, alpha_ref, theta_ref,
    dx_ref, dv0_ref, dk_ref, dvth_ref, dtheta_ref, *, cfg: _Config,
):
    k, v_th, alpha, theta = k_ref[...], vth_ref[...], alpha_ref[...], theta_ref[...]
    hard = cfg.reset == "hard"

    def step(t, delta, h, v_prev, acc):
        """Steps 1-7 of the module docstring at time ``t``; returns ``(δ_{t-1}, acc)``."""
        d_k, d_vth, d_theta = acc
        s = _fire(h, v_th)
        g, g_vth, g_theta = _surrogate_grads(cfg.spike_kind, h, s, v_th, theta)
        dv_ds = alpha
        if not cfg.detach_reset:
            dv_ds = dv_ds - (h if hard else v_th)
        s_hat = gs_ref[pl.ds(t, 1), :].astype(jnp.float32) + delta * dv_ds
        h_hat = (delta * (1 - s) if hard else delta) + s_hat * g
        if cfg.decay_input:
            x = x_ref[pl.ds(t, 1), :].astype(jnp.float32)
            dx_ref[pl.ds(t, 1), :] = ((1 - k) * h_hat).astype(dx_ref.dtype)
            d_k = d_k + h_hat * (v_prev - x)
        else:
            dx_ref[pl.ds(t, 1), :] = h_hat.astype(dx_ref.dtype)
            d_k = d_k + h_hat * v_prev
        d_vth = d_vth + s_hat * g_vth
        if not hard:
            d_vth = d_vth - delta * s
        d_theta = d_theta + s_hat * g_theta
        return k * h_hat, (d_k, d_vth, d_theta)

    def body(i, carry):
        t = cfg.num_steps - 1 - i  # t = T-1 .. 1; step 0 is peeled off below (its v_prev is v0)
        delta, h, acc = carry
        h_prev = h_ref[pl.ds(t - 1, 1), :]
        v_prev = _reset(h_prev, _fire(h_prev, v_th), v_th, cfg.reset)
        delta, acc = step(t, delta, h, v_prev, acc)
        return delta, h_prev, acc

    zero = jnp.zeros_like(k)
    h_last = h_ref[pl.ds(cfg.num_steps - 1, 1), :]
    carry = (gv_ref[...], h_last, (zero, zero, zero))
    delta, h0, acc = jax.lax.fori_loop(0, cfg.num_steps - 1, body, carry)
    delta, (d_k, d_vth, d_theta) = step(0, delta, h0, v0_ref[...], acc)
    dv0_ref[...] = delta
    dk_ref[...] = d_k
    dvth_ref[...] = d_vth
    dtheta_ref[...] = d_theta


# --- pallas_call wrappers -----------------------------------------------------------------------


def _forward_call(cfg: _Config, x, v0, k, v_th, *, save_h: bool):
    outputs = [(SEQ, x.dtype), (ROW, jnp.float32)] + ([(SEQ, jnp.float32)] if save_h else [])
    return call(functools.partial(_forward_kernel, cfg=cfg, save_h=save_h), cfg, "lif_forward",
                [(x, SEQ), (v0, ROW), (k, ROW), (v_th, ROW)], outputs)


def _backward_call(cfg: _Config, gs, gv, x, h, v0, k, v_th, alpha, theta):
    inputs = [(gs, SEQ), (gv, ROW), (x, SEQ), (h, SEQ), (v0, ROW), (k, ROW), (v_th, ROW), (alpha, ROW), (theta, ROW)]
    return call(functools.partial(_backward_kernel, cfg=cfg), cfg, "lif_backward", inputs,
                [(SEQ, x.dtype)] + [(ROW, jnp.float32)] * 4)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _lif_2d(cfg, x, v0, k, v_th, alpha, theta):
    """``[T, n]`` inputs, ``[1, n]`` float32 rows -> ``(s [T, n], v_T [1, n] float32)``."""
    del alpha, theta  # backward-only
    return _forward_call(cfg, x, v0, k, v_th, save_h=False)


def _lif_2d_fwd(cfg, x, v0, k, v_th, alpha, theta):
    s, v, h = _forward_call(cfg, x, v0, k, v_th, save_h=True)
    return (s, v), (x, h, v0, k, v_th, alpha, theta)


def _lif_2d_bwd(cfg, residuals, cotangents):
    x, h, v0, k, v_th, alpha, theta = residuals
    gs, gv = cotangents
    dx, dv0, dk, dvth, dtheta = _backward_call(cfg, gs, gv, x, h, v0, k, v_th, alpha, theta)
    return dx, dv0, dk, dvth, jnp.zeros_like(alpha), dtheta


_lif_2d.defvjp(_lif_2d_fwd, _lif_2d_bwd)


# --- public API -----------------------------------------------------------------------------------


def lif_pallas(
    x_seq: Array,
    *,
    decay: ArrayLike,
    v_th: ArrayLike = 1.0,
    spike_fn: Any = _DEFAULT_SPIKE_FN,
    v0: Array | None = None,
    reset: str = "hard",
    detach_reset: bool = False,
    bpta_alpha: ArrayLike = 0.0,
    decay_input: bool = False,
    interpret: bool | None = None,
    block_size: int | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
) -> tuple[Array, Array]:
    """Multi-step LIF, ``x_seq [T, *shape] -> (s_seq [T, *shape], v_T [*shape])``, in two kernels.

    Same maths, arguments and gradients as :func:`snnjax.neurons.lif` (see the module docstring
    for the forward and the hand-written backward recursion), as a ``jax.custom_vjp`` whose forward
    is one ``pallas_call`` and whose backward is one ``pallas_call``.

    Args:
        x_seq: input currents ``[T, *shape]`` (time-major), any float dtype.
        decay: the leak ``k``: a scalar or an array broadcasting against ``shape`` (per channel,
            per neuron). Differentiable.
        v_th: threshold (a spike is ``h >= v_th``), broadcasting against ``shape``. Differentiable.
        spike_fn: a ``surrogate.Sigmoid``, ``ATan``, ``Boxcar``, ``Triangle`` or ``BPSA``; its
            derivative is evaluated in the kernel from its type and hyper-parameter (which is
            differentiable too). Other spike functions raise ``ValueError``.
        v0: initial post-reset membrane ``[*shape]`` (default 0). Differentiable.
        reset: ``"hard"`` (to 0) or ``"soft"`` (subtract ``v_th``).
        detach_reset: no gradient through the reset's use of the spike.
        bpta_alpha: BPTA residual coefficient ``α`` (adds ``α`` to ``∂v_t/∂s_t``; 0 forward).
        decay_input: ``h = k v + (1 - k) x`` instead of ``h = k v + x``.
        interpret: run in Pallas interpret mode; default: when the default backend is the CPU.
            Compiled kernels target GPU (Triton).
        block_size: neurons per program, a power of two (default :func:`auto_block_size`).
        num_warps, num_stages: Triton compiler parameters (GPU only). ``None``: ``block_size / 32``
            warps capped at 4, and Pallas's default number of pipeline stages (3).

    Returns:
        ``(s_seq, v_T)``: spikes (exactly 0/1) in ``x_seq``'s dtype, and the final post-reset
        membrane in ``v0``'s dtype (``x_seq``'s when ``v0`` is None). The membrane is computed in
        float32 whatever the input dtype.
    """
    cfg, theta, n_pad = make_config(
        x_seq, spike_fn=spike_fn, reset=reset, detach_reset=detach_reset, decay_input=decay_input,
        interpret=interpret, block_size=block_size, num_warps=num_warps, num_stages=num_stages,
        kernel_name="lif_pallas",
    )
    num_steps, shape = x_seq.shape[0], tuple(x_seq.shape[1:])
    n = math.prod(shape)
    state_dtype = x_seq.dtype if v0 is None else v0.dtype
    x = pad_lanes(x_seq.reshape(num_steps, n), n_pad)
    v0_row = as_row(0.0 if v0 is None else v0, shape, n_pad, 0.0)
    # Padded lanes get harmless values (k = 1, v_th = 1, width 1): x = 0 there, so they never fire.
    k = as_row(decay, shape, n_pad, 1.0)
    v_th_row = as_row(v_th, shape, n_pad, 1.0)
    alpha = as_row(bpta_alpha, shape, n_pad, 0.0)
    theta = as_row(theta, shape, n_pad, 1.0)
    s, v = _lif_2d(cfg, x, v0_row, k, v_th_row, alpha, theta)
    s, v = unpad(s, n), unpad(v, n)
    return s.reshape(x_seq.shape), v.reshape(shape).astype(state_dtype)
