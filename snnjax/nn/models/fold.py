"""Folding every (LLC-)BN of a trained ``ConvSNN`` into its convolution (llc-lif paper §3.3).

At inference an LLC-BN is the affine map ``λ·α·k·(x − μ)/sqrt(σ² + ε) + β``, so
``conv → LLC-BN`` equals one convolution with weights ``W'`` and bias ``B'``
(:func:`snnjax.layers.fold_into_weights`). :func:`fold_norms` turns a model config and its trained
variables into the config and variables of the same network with ``norm="none"``: a purely spiking
network of convolutions, dense layers and neurons, ready for deployment or NIR export.
"""

from __future__ import annotations

from typing import Any

import jax
import ml_collections

from snnjax.nn.layers.llc_batch_norm import fold_into_weights

Variables = dict[str, Any]


def _block_leak(block_params: dict, norm_params: dict, cfg: ml_collections.ConfigDict):
    """The k_τ(a) and α a block's norm used (see ``ConvBlock``)."""
    if cfg.norm == "bn":
        return 1.0, 1.0
    if "w" in norm_params:  # the released code's own leak parameter
        return jax.nn.sigmoid(norm_params["w"]), cfg.llc_bn_alpha
    return jax.nn.sigmoid(block_params["a"]), cfg.llc_bn_alpha


def _fold_tree(params: dict, stats: dict, cfg: ml_collections.ConfigDict, eps: float) -> tuple[dict, dict]:
    folded_params, folded_stats = {}, {}
    for name, sub in params.items():
        if not isinstance(sub, dict):
            folded_params[name] = sub
            continue
        sub_stats = stats.get(name, {}) if isinstance(stats, dict) else {}
        if "conv" in sub and "norm" in sub:
            norm, norm_stats = sub["norm"], sub_stats["norm"]
            leak, alpha = _block_leak(sub, norm, cfg)
            kernel, bias = fold_into_weights(
                sub["conv"]["kernel"],
                sub["conv"].get("bias"),
                mean=norm_stats["mean"],
                var=norm_stats["var"],
                leak=leak,
                scale=norm["scale"],
                shift=norm["bias"],
                alpha=alpha,
                eps=eps,
            )
            block = {k: v for k, v in sub.items() if k != "norm"}
            block["conv"] = {"kernel": kernel, "bias": bias}
            folded_params[name] = block
            rest = {k: v for k, v in sub_stats.items() if k != "norm"}
            if rest:
                folded_stats[name] = rest
        else:
            folded_params[name], child_stats = _fold_tree(sub, sub_stats, cfg, eps)
            if child_stats:
                folded_stats[name] = child_stats
    return folded_params, folded_stats


def fold_norms(
    model_cfg: ml_collections.ConfigDict, variables: Variables, eps: float = 1e-5
) -> tuple[ml_collections.ConfigDict, Variables]:
    """Returns ``(config, variables)`` of the equivalent network without normalisation layers.

    Args:
        model_cfg: ``config.model`` of a ``conv`` model with ``norm`` = ``llc_bn`` or ``bn``.
        variables: its trained variables (``params`` and ``batch_stats``).
        eps: the norms' ε.

    The folded network's eval-mode outputs equal the original's (up to float rounding).
    """
    if model_cfg.arch != "conv":
        raise ValueError(f"fold_norms folds conv models; got model.arch={model_cfg.arch!r}")
    folded_cfg = ml_collections.ConfigDict(model_cfg.to_dict())
    if model_cfg.norm == "none":
        return folded_cfg, variables
    params, stats = _fold_tree(dict(variables["params"]), dict(variables.get("batch_stats", {})), model_cfg, eps)
    folded_cfg.norm = "none"
    folded = {"params": params}
    if stats:
        folded["batch_stats"] = stats
    return folded_cfg, folded
