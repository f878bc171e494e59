"""Random affine image augmentation in plain NumPy.

The llc-lif released code augments MNIST with torchvision's
``RandomAffine(degrees=30, translate=(0.15, 0.15), scale=(0.85, 1.11))``. `random_affine` draws the
same parameters the same way (angle ~ U(-30°, 30°); integer shifts ``round(U(-0.15 W, 0.15 W))``
and ``round(U(-0.15 H, 0.15 H))``; scale ~ U(0.85, 1.11)) and applies them like torchvision: about
the image centre, nearest-neighbour sampling of the inverse map, zeros outside the image.

With pixel centres at integer ``(x, y)`` (x to the right, y down), centre
``c = ((W - 1)/2, (H - 1)/2)`` and a counter-clockwise angle θ (as displayed), the output pixel
``p`` takes the input pixel nearest to

.. math::  p_\\mathrm{in} = c + \\tfrac{1}{s} R(θ)^{-1} (p - c - t), \\qquad
           R(θ) = \\begin{pmatrix} \\cos θ & \\sin θ \\\\ -\\sin θ & \\cos θ \\end{pmatrix}.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

AUGMENTATIONS = ("none", "affine")


@dataclasses.dataclass(frozen=True)
class AffineRanges:
    """Ranges of `random_affine`'s parameters (defaults: the llc-lif MNIST augmentation)."""

    degrees: float = 30.0
    translate: float = 0.15
    scale: tuple[float, float] = (0.85, 1.11)


def sample_affine(rng: np.random.Generator, height: int, width: int,
                  ranges: AffineRanges = AffineRanges()) -> tuple[float, float, float, float]:
    """Draws ``(angle_degrees, tx, ty, scale)`` in the order and manner torchvision does."""
    angle = rng.uniform(-ranges.degrees, ranges.degrees)
    max_dx, max_dy = ranges.translate * width, ranges.translate * height
    tx = float(np.round(rng.uniform(-max_dx, max_dx)))
    ty = float(np.round(rng.uniform(-max_dy, max_dy)))
    scale = rng.uniform(*ranges.scale)
    return angle, tx, ty, scale


def warp_affine(images: np.ndarray, angle: np.ndarray, tx: np.ndarray, ty: np.ndarray,
                scale: np.ndarray) -> np.ndarray:
    """Applies one affine map per image (rotation about the centre, scale, then shift).

    Args:
        images: ``[B, H, W, C]``.
        angle: ``[B]`` counter-clockwise rotation in degrees.
        tx: ``[B]`` shift to the right, pixels.
        ty: ``[B]`` shift down, pixels.
        scale: ``[B]`` zoom factor (> 1 enlarges).

    Returns:
        ``[B, H, W, C]``, same dtype; pixels mapped from outside the input are 0.
    """
    batch, height, width, _ = images.shape
    theta = np.deg2rad(np.asarray(angle, np.float64))
    cos, sin = np.cos(theta), np.sin(theta)
    inv_scale = 1.0 / np.asarray(scale, np.float64)
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    # Offsets from the shifted centre, [B, H, W].
    dx = xs[None] - cx - np.asarray(tx, np.float64)[:, None, None]
    dy = ys[None] - cy - np.asarray(ty, np.float64)[:, None, None]
    # Inverse rotation R(θ)^{-1} = [[cos, -sin], [sin, cos]], then inverse scale.
    k = inv_scale[:, None, None]
    cos, sin = cos[:, None, None], sin[:, None, None]
    src_x = np.rint(cx + k * (cos * dx - sin * dy)).astype(np.int64)
    src_y = np.rint(cy + k * (sin * dx + cos * dy)).astype(np.int64)
    inside = (src_x >= 0) & (src_x < width) & (src_y >= 0) & (src_y < height)
    b = np.arange(batch)[:, None, None]
    out = images[b, np.clip(src_y, 0, height - 1), np.clip(src_x, 0, width - 1)]
    return np.where(inside[..., None], out, np.zeros((), images.dtype))


def random_affine(images: np.ndarray, rngs: Sequence[np.random.Generator],
                  ranges: AffineRanges = AffineRanges()) -> np.ndarray:
    """Random affine augmentation, one parameter draw per image from its own generator.

    Args:
        images: ``[B, H, W, C]``.
        rngs: ``B`` generators (`AugmentedSplit` seeds them with ``(seed, epoch, index)``).
        ranges: the parameter ranges.

    Returns:
        ``[B, H, W, C]`` augmented images.
    """
    if images.ndim != 4:
        raise ValueError(f"random_affine expects [B, H, W, C] images, got shape {images.shape}")
    if len(rngs) != len(images):
        raise ValueError(f"{len(images)} images but {len(rngs)} generators")
    _, height, width, _ = images.shape
    params = np.array([sample_affine(rng, height, width, ranges) for rng in rngs],
                      np.float64).reshape(-1, 4)
    return warp_affine(images, *params.T)
