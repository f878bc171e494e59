"""The NIR tests' nets: their model config, and variables that look trained."""

from __future__ import annotations

import jax
import jitted

from snnjax import models


def trained_like_variables(model, x):
    """Perturbed initial parameters and random running statistics of a realistic size.

    (A few train-mode passes, as in test_llc_batch_norm.py, move the statistics only 10 % per pass
    from (0, 1) and cost most of the test's time; these are further from the initial values.)
    """
    variables = jitted.init(model, {"params": jax.random.PRNGKey(1), "dropout": jax.random.PRNGKey(2)}, x, train=False)
    leaves, treedef = jax.tree.flatten(variables["params"])
    keys = iter(jax.random.split(jax.random.PRNGKey(3), 3 * len(leaves)))
    params = treedef.unflatten([p + 0.05 * jax.random.normal(next(keys), p.shape, p.dtype) for p in leaves])
    stats = {
        block: {"norm": {
            "mean": 0.1 * jax.random.normal(next(keys), s["norm"]["mean"].shape),
            "var": jax.random.uniform(next(keys), s["norm"]["var"].shape, minval=0.02, maxval=0.2),
        }}
        for block, s in variables.get("batch_stats", {}).items()
    }  # fmt: skip
    return {"params": params, "batch_stats": stats} if stats else {"params": params}


def nir_net_config(spec: str, changes: dict, time_steps: int):
    """The model config of a NIR test net: ``spec`` at ``time_steps``, average pooling, threshold 0.5,
    with ``changes`` (``{"neuron.kind": "llc_lif", "norm": "none", ...}``) applied."""
    cfg = models.default_model_config()
    cfg.spec, cfg.time_steps, cfg.pool = spec, time_steps, "avg"
    cfg.neuron.v_th = 0.5
    for key, value in changes.items():
        section, _, field = key.rpartition(".")
        setattr(cfg[section] if section else cfg, field, value)
    return cfg
