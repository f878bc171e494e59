"""Network spec strings, as the papers write them: ``128c3-p2-128c3-p2-2048-100-10``.

Tokens, separated by ``-`` (case-insensitive):

=============  ==========================================================================
``128c3``      conv block: 3×3 convolution to 128 channels → norm → [ReLU] → spiking neurons
``p2``/``mp2`` 2×2 max pooling (``p`` follows ``model.pool``: max by default)
``ap4``        4×4 average pooling
``s2``         keep every 2nd row and column (nearest-neighbour resize to half size, as PyTorch's
               ``F.interpolate(size=(H/2, W/2))``; the BP-STA code's DVS nets shrink 128 → 64 so)
``dp``         time-consistent dropout (rate ``model.dropout``; ``model.dropout_site`` places it)
``2048``       dense block: linear layer to 2048 → spiking neurons
``v10``        voting to 10 classes (average of consecutive groups)
=============  ==========================================================================

A trailing ``M-N`` where N is the number of classes and M a multiple of N (``100-10``) is the papers'
voting notation: a spiking dense layer of M neurons averaged in groups of M/N.
"""

from __future__ import annotations

import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class Layer:
    """One parsed token: ``kind`` in {conv, pool, dropout, dense, vote} and its numbers."""

    kind: str  # conv, pool, subsample, dropout, dense, vote
    size: int = 0  # channels (conv), width (dense), window (pool), stride (subsample), classes (vote)
    kernel: int = 0  # conv kernel size
    pool: str = ""  # "max" or "avg"


SPATIAL = ("conv", "pool", "subsample")  # the layers that keep the [H, W, C] layout
POOLS = ("max", "avg")  # what ``p`` means (``model.pool``)

_CONV = re.compile(r"^(\d+)c(\d+)$")
_POOL = re.compile(r"^(p|mp|ap)(\d+)$")
_VOTE = re.compile(r"^v(\d+)$")
_SUBSAMPLE = re.compile(r"^s(\d+)$")


def parse_spec(spec: str, num_classes: int | None, default_pool: str = "max") -> tuple[Layer, ...]:
    """Parses a spec string into layers; raises ``ValueError`` naming a bad token.

    Every size (channels, kernel, window, stride, width, classes) must be >= 1: ``16c0`` would
    divide by zero in the weight init, ``p0`` pool to nothing. ``num_classes=None`` checks the
    string alone (the config check, before the data say how many classes there are): the last
    layer's width against the classes, and the ``100-10`` voting notation, are left for later.
    """
    if not isinstance(spec, str):
        raise ValueError(f"the spec must be a string such as '16c3-p2-32c3-p2-100-10', got {spec!r}")
    tokens = [t.strip().lower() for t in spec.split("-") if t.strip()]
    if not tokens:
        raise ValueError("empty network spec")
    layers: list[Layer] = []
    for i, tok in enumerate(tokens):
        if m := _CONV.match(tok):
            layers.append(Layer("conv", size=int(m.group(1)), kernel=int(m.group(2))))
        elif m := _POOL.match(tok):
            kind = {"p": default_pool, "mp": "max", "ap": "avg"}[m.group(1)]
            layers.append(Layer("pool", size=int(m.group(2)), pool=kind))
        elif m := _SUBSAMPLE.match(tok):
            layers.append(Layer("subsample", size=int(m.group(1))))
        elif tok == "dp":
            layers.append(Layer("dropout"))
        elif m := _VOTE.match(tok):
            layers.append(Layer("vote", size=int(m.group(1))))
        elif tok.isdigit():
            layers.append(Layer("dense", size=int(tok)))
        else:
            raise ValueError(
                f"bad token {tok!r} (position {i}) in spec {spec!r}: expected e.g. 128c3, p2, mp2, ap4, s2, dp, 2048, v10"
            )
        new = layers[-1]
        if new.kind != "dropout" and min((new.size, new.kernel) if new.kind == "conv" else (new.size,)) < 1:
            raise ValueError(
                f"token {tok!r} (position {i}) in spec {spec!r} has a size of 0: channels, kernels, windows, strides "
                f"and widths must be >= 1, e.g. 16c3, p2, 100"
            )
    if default_pool not in POOLS and any(l.kind == "pool" and l.pool not in POOLS for l in layers):
        raise ValueError(f"model.pool={default_pool!r} must be one of {list(POOLS)} (what 'p2' in spec {spec!r} means)")
    if num_classes is None:
        _check_order(layers, spec)
        return tuple(layers)
    last = layers[-1]
    previous = [l for l in layers[:-1] if l.kind != "dropout"]
    if (
        last.kind == "dense"
        and last.size == num_classes
        and previous
        and previous[-1].kind == "dense"
        and previous[-1].size > num_classes
        and previous[-1].size % num_classes == 0
    ):
        layers[-1] = Layer("vote", size=num_classes)
    _check(layers, spec, num_classes)
    return tuple(layers)


def _check_order(layers: list[Layer], spec: str) -> None:
    """Conv, pool and subsample layers come before the dense ones; the net ends in a dense or vote."""
    seen_dense = False
    for layer in layers:
        if layer.kind == "dense":
            seen_dense = True
        if layer.kind in SPATIAL and seen_dense:
            raise ValueError(f"spec {spec!r}: conv/pool/subsample layers must come before dense layers")
    if layers[-1].kind not in ("dense", "vote"):
        raise ValueError(f"spec {spec!r} must end with a dense or voting layer")


def _check(layers: list[Layer], spec: str, num_classes: int) -> None:
    _check_order(layers, spec)
    out = layers[-1]
    if out.kind == "vote" and out.size != num_classes:
        raise ValueError(f"spec {spec!r} votes into {out.size} classes but the data has {num_classes}")
    if out.kind == "dense" and out.size != num_classes:
        raise ValueError(
            f"spec {spec!r} ends in {out.size} outputs but the data has {num_classes} classes; "
            f"end it with {num_classes} or with a voting layer (e.g. -{10 * num_classes}-{num_classes})"
        )
