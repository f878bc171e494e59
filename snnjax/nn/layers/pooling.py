"""Spatial pooling over time: k×k windows, stride k, NHWC, on ``[T, B, H, W, C]``.

Flax's ``nn.max_pool`` and ``nn.pool`` take the leading ``T, B`` axes as batch axes. (Average pooling
is ``nn.pool``'s window sum divided by k²: ``nn.avg_pool`` divides by an int32 count, which JAX's
strict dtype promotion refuses.) The gradient of a max pool goes to one element of each window: on
ties (equal spikes) the first one in row-major order, as PyTorch's ``MaxPool2d`` does.

:func:`max_pool_argmax` is the same max pool with a hand-written backward pass for these
non-overlapping windows: the gradient is scattered to each window's first arg-max by a one-hot
product instead of XLA's ``select_and_scatter`` (slow on CPU). ``pool(..., "max", k, impl="argmax")``
uses it; it equals the autodiff of ``nn.max_pool`` exactly (tested). ``impl="auto"`` (the default)
picks it on CPU, where it made the seed net's train step 1.4x faster (684 → 477 ms at batch 16 on a
2-core CPU, jax 0.10), and ``nn.max_pool`` on accelerators.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.nn.layers import auto_impl

Array = jax.Array

POOLS = ("max", "avg")
MAX_POOL_IMPLS = ("auto", "xla", "argmax")


def _window_slices(x: Array, k: int) -> list[Array]:
    """The k·k strided views ``x[..., i::k, j::k, :]`` (row-major ``(i, j)``), each
    ``[..., H//k, W//k, C]``: element ``i·k + j`` of every window."""
    hh, ww = x.shape[-3] // k, x.shape[-2] // k
    return [x[..., i: hh * k: k, j: ww * k: k, :] for i in range(k) for j in range(k)]


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def max_pool_argmax(x: Array, k: int) -> Array:
    """k×k max pool, stride k, ``[..., H, W, C] -> [..., H//k, W//k, C]``; gradient to the first arg-max.

    The maximum is taken elementwise over the k·k strided views of :func:`_window_slices`, not by a
    ``reduce_max`` over window axes: in a profile of the seed net's eval forward, XLA:CPU (jax 0.10)
    fused such a reduce into the following matmul's YNNPACK call, which then took longer than the
    matmul alone (``docs/performance.md``).
    """
    return functools.reduce(jnp.maximum, _window_slices(x, k))


def _max_pool_fwd(x: Array, k: int):
    views = _window_slices(x, k)
    peak = functools.reduce(jnp.maximum, views)
    first = jnp.full(peak.shape, k * k - 1, jnp.int32)
    for i in range(k * k - 2, -1, -1):  # the first (row-major) view that reaches the maximum
        first = jnp.where(views[i] == peak, jnp.int32(i), first)
    return peak, (first, x.shape)


def _max_pool_bwd(k: int, residuals, g: Array):
    first, shape = residuals  # first arg-max per window [..., H//k, W//k, C] (row-major order)
    *lead, h, w, c = shape
    hh, ww = h // k, w // k
    onehot = jax.nn.one_hot(first, k * k, axis=-2, dtype=g.dtype)  # [..., hh, ww, k·k, C]
    dx = (onehot * g[..., None, :]).reshape(*lead, hh, ww, k, k, c)
    dx = jnp.swapaxes(dx, -4, -3).reshape(*lead, hh * k, ww * k, c)
    pad = [(0, 0)] * len(lead) + [(0, h - hh * k), (0, w - ww * k), (0, 0)]
    return (jnp.pad(dx, pad),)


max_pool_argmax.defvjp(_max_pool_fwd, _max_pool_bwd)


def resolve_max_pool_impl(impl: str) -> str:
    """``"auto"`` → ``"argmax"`` on CPU, ``"xla"`` on accelerators; others as given."""
    return auto_impl.resolve(impl, MAX_POOL_IMPLS, cpu="argmax", accelerator="xla", name="max pool impl")


def pool(x: Array, kind: str, k: int, impl: str = "auto") -> Array:
    """``[T, B, H, W, C] -> [T, B, H // k, W // k, C]`` by max (spikes stay spikes) or average.

    ``impl`` (max pooling only): ``"xla"`` (``nn.max_pool``), ``"argmax"`` (:func:`max_pool_argmax`)
    or ``"auto"`` (:func:`resolve_max_pool_impl`).
    """
    if kind not in POOLS:
        raise ValueError(f"pool kind must be one of {POOLS}, got {kind!r}")
    impl = resolve_max_pool_impl(impl)
    if kind == "max":
        if impl == "argmax":
            return max_pool_argmax(x, k)
        return nn.max_pool(x, window_shape=(k, k), strides=(k, k), padding="VALID")
    summed = nn.pool(x, 0.0, jax.lax.add, window_shape=(k, k), strides=(k, k), padding="VALID")
    return summed / jnp.asarray(k * k, x.dtype)


def subsample(x: Array, k: int) -> Array:
    """``[T, B, H, W, C] -> [T, B, ⌈H/k⌉, ⌈W/k⌉, C]``: every k-th row and column (a spec's ``s{k}``)."""
    return x[:, :, ::k, ::k]


def downsample(x: Array, kind: str, k: int, pool_kind: str = "max", max_pool_impl: str = "auto") -> Array:
    """A spec's weightless spatial layer on ``[T, B, H, W, C]``: ``kind="pool"`` (:func:`pool` by
    ``pool_kind``; ``max_pool_impl`` for max pooling) or ``"subsample"`` (:func:`subsample`)."""
    if kind == "subsample":
        return subsample(x, k)
    if kind != "pool":
        raise ValueError(f"downsample kind must be 'pool' or 'subsample', got {kind!r}")
    return pool(x, pool_kind, k, impl=max_pool_impl if pool_kind == "max" else "xla")
