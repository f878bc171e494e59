"""What the fused neuron kernels share: the static config, the per-step maths and the launch.

Every kernel in :mod:`snnjax.kernels` has the same shape: the neurons are independent, the input
``[T, *shape]`` is flattened to ``[T, N]`` (padded to a multiple of the block size), each program of
a 1-D grid owns ``block`` neurons and walks all ``T`` steps with a ``jax.lax.fori_loop``, reading and
writing one ``[1, block]`` row per step. Per-neuron parameters are broadcast to ``[1, N]`` float32
rows (so scalars, per-channel and per-neuron values take one path; their gradients are summed back
to the parameter's shape by the transpose of the broadcast, outside the kernel).

On GPU the kernels compile with Pallas's Triton backend (selected explicitly through
``jax.experimental.pallas.triton.CompilerParams``: without it JAX >= 0.10 lowers ``pallas_call`` to
Mosaic GPU, a different programming model); elsewhere they run in Pallas interpret mode.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from snnjax.core import surrogate

Array = jax.Array
ArrayLike = jax.typing.ArrayLike

RESET_MODES = ("hard", "soft")
MIN_BLOCK, MAX_BLOCK = 32, 1024
# Auto block size: the largest power of two in [MIN_BLOCK, MAX_BLOCK] that still gives this many
# programs (an H100 has 132 SMs; the neurons are independent, so more programs hide more latency).
TARGET_PROGRAMS = 256

# spike-function type -> (kernel name, name of its one hyper-parameter field)
SPIKE_KINDS = {
    surrogate.Sigmoid: ("sigmoid", "alpha"),
    surrogate.ATan: ("atan", "alpha"),
    surrogate.Boxcar: ("boxcar", "width"),
    surrogate.Triangle: ("triangle", "width"),
    surrogate.BPSA: ("bpsa", "eps"),
}

SEQ, ROW = "seq", "row"  # a [T, N] operand, a [1, N] operand


@dataclasses.dataclass(frozen=True)
class KernelConfig:
    """Everything static about one kernel instance (hashable: a ``nondiff_argnums`` argument)."""

    num_steps: int
    block: int
    reset: str
    detach_reset: bool
    decay_input: bool
    spike_kind: str
    interpret: bool
    num_warps: int | None
    num_stages: int | None


# --- the per-step maths (all float32 [1, block] rows), written as the scan reference writes it ----


def charge(v, x, k, decay_input):
    """``h = k v + x`` (or ``k v + (1 - k) x``): :func:`snnjax.neurons.dynamics.charge`."""
    return k * v + (1 - k) * x if decay_input else k * v + x


def fire(h, v_th):
    """The reference's ``H(h - v_th)``, written the same way so the spikes are bit-identical."""
    return jnp.where(h - v_th >= 0, 1.0, 0.0).astype(jnp.float32)


def reset(h, s, v_th, mode):
    return h * (1 - s) if mode == "hard" else h - s * v_th


def surrogate_grads(kind, h, s, v_th, theta):
    """``(g, g_vth, g_theta)``: ``∂s/∂h``, ``∂s/∂v_th`` and ``∂s/∂θ`` of the spike function at ``h``."""
    x = h - v_th
    zero = jnp.zeros_like(h)
    if kind == "sigmoid":
        sig = 1 / (1 + jnp.exp(-theta * x))
        d = sig * (1 - sig)
        return theta * d, -theta * d, x * d
    if kind == "atan":
        den = 1 + jnp.square((math.pi / 2) * theta * x)
        g = (theta / 2) / den
        return g, -g, (x / 2) / den
    if kind == "boxcar":
        inside = jnp.abs(x) < theta / 2
        g = jnp.where(inside, 1 / theta, zero)
        return g, -g, jnp.where(inside, -x / jnp.square(theta), zero)
    if kind == "triangle":
        r = x / theta
        g = jnp.maximum(zero, 1 - jnp.abs(x) / theta) / theta
        w2 = jnp.square(theta)
        d_theta = jnp.where(x < 0, (1 + r) * (-x / w2), -(1 - r) * (x / w2))
        return g, -g, jnp.where(jnp.abs(x) < theta, d_theta, zero)
    if kind == "bpsa":
        sign = jnp.where(h < 0, -1.0, 1.0).astype(jnp.float32)
        return s * sign / jnp.maximum(jnp.abs(h), theta), zero, zero
    raise ValueError(f"unknown spike kind {kind!r}")


def spike_input_grad(cfg: KernelConfig, h, v_th):
    """``∂v_t/∂s_t`` without BPTA: ``-h`` (hard), ``-v_th`` (soft), 0 with ``detach_reset``."""
    if cfg.detach_reset:
        return jnp.zeros_like(h)
    return -h if cfg.reset == "hard" else -v_th


# --- the launch ---------------------------------------------------------------------------------


def compiler_params(cfg: KernelConfig):
    if cfg.interpret:
        return None
    # Triton, explicitly: without compiler params JAX lowers pallas_call to Mosaic GPU on GPU.
    from jax.experimental.pallas import triton as pl_triton

    # Default: one neuron per thread up to 4 warps (Triton's own default of 4 warps would leave
    # threads idle on blocks under 128 neurons).
    num_warps = min(4, max(1, cfg.block // 32)) if cfg.num_warps is None else cfg.num_warps
    return pl_triton.CompilerParams(num_warps=num_warps, num_stages=cfg.num_stages)


def call(
    kernel: Callable[..., None],
    cfg: KernelConfig,
    name: str,
    inputs: Sequence[tuple[Array, str]],
    outputs: Sequence[tuple[str, Any]],
) -> tuple[Array, ...]:
    """One ``pallas_call`` over the neuron blocks.

    ``inputs``: ``(array, SEQ | ROW)`` pairs, ``[T, n]`` or ``[1, n]``; ``outputs``: ``(SEQ | ROW,
    dtype)`` pairs. ``kernel(*input_refs, *output_refs)`` sees one block of each.
    """
    n = inputs[0][0].shape[1]
    specs = {
        SEQ: pl.BlockSpec((cfg.num_steps, cfg.block), lambda i: (0, i)),
        ROW: pl.BlockSpec((1, cfg.block), lambda i: (0, i)),
    }
    rows = {SEQ: cfg.num_steps, ROW: 1}
    return pl.pallas_call(
        kernel,
        out_shape=tuple(jax.ShapeDtypeStruct((rows[kind], n), dtype) for kind, dtype in outputs),
        grid=(n // cfg.block,),
        in_specs=[specs[kind] for _, kind in inputs],
        out_specs=tuple(specs[kind] for kind, _ in outputs),
        interpret=cfg.interpret,
        compiler_params=compiler_params(cfg),
        name=name,
    )(*(a for a, _ in inputs))


# --- the wrappers' shared argument handling -------------------------------------------------------


def auto_block_size(n: int) -> int:
    """The default neurons per program: the largest power of two in [32, 1024] leaving ≥ 256 programs."""
    block = MAX_BLOCK
    while block > MIN_BLOCK and -(-n // block) < TARGET_PROGRAMS:
        block //= 2
    return block


def spike_kind(spike_fn, kernel_name: str) -> tuple[str, ArrayLike]:
    """The kernel's name for ``spike_fn`` and its one hyper-parameter; unknown types raise."""
    try:
        kind, field = SPIKE_KINDS[type(spike_fn)]
    except KeyError:
        names = sorted(cls.__name__ for cls in SPIKE_KINDS)
        raise ValueError(
            f"{kernel_name} evaluates the surrogate in-kernel and knows {names}; got "
            f"{type(spike_fn).__name__}. Use the scan implementation (impl='scan') for it."
        ) from None
    return kind, getattr(spike_fn, field)


def pad_lanes(x: Array, n_pad: int) -> Array:
    """``[T, n]`` padded with zeros to ``[T, n_pad]``."""
    n = x.shape[1]
    return x if n_pad == n else jnp.pad(x, ((0, 0), (0, n_pad - n)))


def as_row(value: ArrayLike, shape: tuple[int, ...], n_pad: int, fill: float) -> Array:
    """``value`` broadcast to the neuron shape, flattened to a float32 ``[1, n_pad]`` row."""
    n = math.prod(shape)
    row = jnp.broadcast_to(jnp.asarray(value).astype(jnp.float32), shape).reshape(1, n)
    return row if n_pad == n else jnp.pad(row, ((0, 0), (0, n_pad - n)), constant_values=fill)


def make_config(
    x_seq: Array,
    *,
    spike_fn,
    reset: str,
    detach_reset: bool,
    decay_input: bool,
    interpret: bool | None,
    block_size: int | None,
    num_warps: int | None,
    num_stages: int | None,
    kernel_name: str,
) -> tuple[KernelConfig, ArrayLike, int]:
    """Checks the arguments every kernel takes; returns ``(config, surrogate θ, padded N)``."""
    if jnp.ndim(x_seq) < 1 or x_seq.shape[0] < 1:
        raise ValueError(f"x_seq must have a leading time axis with at least one step; got {jnp.shape(x_seq)}")
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")
    kind, theta = spike_kind(spike_fn, kernel_name)
    if interpret is None:
        interpret = jax.default_backend() == "cpu"
    n = math.prod(x_seq.shape[1:])
    block = auto_block_size(n) if block_size is None else int(block_size)
    if block < 1 or block & (block - 1):
        raise ValueError(f"block_size must be a power of two, got {block_size}")
    cfg = KernelConfig(
        num_steps=x_seq.shape[0],
        block=block,
        reset=reset,
        detach_reset=bool(detach_reset),
        decay_input=bool(decay_input),
        spike_kind=kind,
        interpret=bool(interpret),
        num_warps=num_warps,
        num_stages=num_stages,
    )
    return cfg, theta, -(-n // block) * block


def unpad(a: Array, n: int) -> Array:
    return a if a.shape[1] == n else a[:, :n]

