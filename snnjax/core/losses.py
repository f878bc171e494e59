"""Losses of the three papers, on a model's time-major output (``snnjax.models.ModelOutput``).

- ``mse_rate``: mean squared error between the output firing rate (mean over time) and the one-hot
  label (llc-lif paper §3.4; bpsa-bpta paper Eq. 5). ``reduction="mean"`` averages over classes as
  PyTorch's ``mse_loss`` does (the papers' released code); ``"sum"`` sums over classes (Eq. 5).
- ``cross_entropy``: softmax cross-entropy of the read-out output (CE-LIF: the time-averaged
  linear readout; copy memory: one prediction per step).
- ``mse_regression``: mean squared error of a scalar read-out (the adding problem).

With local classifiers the total is :math:`L = L_\\mathrm{global} + w \\sum_i L_{\\mathrm{local},i}`
(llc-lif paper §3.4, w = 1).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from snnjax.core.output import ModelOutput, read_out
from snnjax.core.precision import at_least_float32  # losses in at least float32, float64 in a float64 model
from snnjax.core.registry import Registry, choice_problem

Array = jax.Array


REDUCTIONS = ("mean", "sum")  # how a loss reduces over classes (``loss.reduction``)


def mse_rate(out: Array, labels: Array, readout: str = "mean", reduction: str = "mean") -> Array:
    """MSE between read-out rates ``[B, K]`` and one-hot ``labels [B]``."""
    rates = read_out(out, readout)
    rates = rates.astype(at_least_float32(rates))
    target = jax.nn.one_hot(labels, rates.shape[-1], dtype=rates.dtype)
    sq = jnp.square(rates - target)
    per_example = sq.mean(axis=-1) if reduction == "mean" else sq.sum(axis=-1)
    return per_example.mean()


def cross_entropy(out: Array, labels: Array, readout: str = "mean", reduction: str = "mean") -> Array:
    """Softmax cross-entropy of the read-out logits against integer labels (``[B]`` or ``[B, T]``)."""
    logits = read_out(out, readout)
    logits = logits.astype(at_least_float32(logits))
    if readout == "per_step":
        logits = jnp.swapaxes(logits, 0, 1)  # [B, T, K] to match labels [B, T]
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels.astype(jnp.int32)).mean()


def mse_regression(out: Array, targets: Array, readout: str = "last", reduction: str = "mean") -> Array:
    """MSE of a scalar read-out ``[B, 1]`` against float ``targets [B]``."""
    pred = read_out(out, readout)
    pred = pred.astype(at_least_float32(pred))[..., 0]
    return jnp.square(pred - targets.astype(pred.dtype)).mean()


def total_loss(
    output: ModelOutput,
    labels: Array,
    name: str,
    local_weight: float = 1.0,
    reduction: str = "mean",
) -> tuple[Array, dict[str, Array]]:
    """``L_global + local_weight · Σ L_local`` and its parts, for one batch.

    The local classifiers are read out like the global one (their rates, llc-lif paper §3.4).
    """
    fn = get(name)
    global_loss = fn(output.out, labels, output.readout, reduction)
    parts = {"loss_global": global_loss}
    total = global_loss
    for i, local in enumerate(output.local_outs):
        local_loss = fn(local, labels, output.readout, reduction)
        parts[f"loss_local_{i}"] = local_loss
        total = total + local_weight * local_loss
    parts["loss"] = total
    return total, parts


def accuracy(output: ModelOutput, labels: Array) -> Array:
    """Fraction of correct argmax predictions (per step for ``per_step`` readouts)."""
    pred = output.prediction()
    if output.readout == "per_step":
        pred = jnp.swapaxes(pred, 0, 1)  # [B, T, K]
    return (jnp.argmax(pred, axis=-1) == labels).astype(jnp.float32).mean()


# --------------------------------------------------------------------------- the peers' losses
#
# snnTorch's ``snntorch.functional`` losses, SpikingJelly's TET and Spyx's regularisers, on the same
# time-major output ``out [T, B, K]``. They define their own reduction over time, so ``readout`` is
# ignored; ``reduction`` is over classes as for ``mse_rate`` ("mean" = PyTorch's ``MSELoss``).


def _mse(pred: Array, target: Array, reduction: str) -> Array:
    sq = jnp.square(pred - target)
    return (sq.mean(axis=-1) if reduction == "mean" else sq.sum(axis=-1)).mean()


def _ce(logits: Array, labels: Array) -> Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels.astype(jnp.int32)).mean()


def ce_rate(out: Array, labels: Array, readout: str = "mean", reduction: str = "mean") -> Array:
    """snnTorch ``ce_rate_loss``: cross-entropy of every step's output, averaged over time.

    .. math::  L = \\frac1T \\sum_t \\mathrm{CE}(\\mathrm{softmax}(o_t), y)
    """
    logits = out.astype(at_least_float32(out))
    return jnp.mean(jax.vmap(_ce, in_axes=(0, None))(logits, labels))


def ce_count(out: Array, labels: Array, readout: str = "mean", reduction: str = "mean") -> Array:
    """snnTorch ``ce_count_loss``: cross-entropy of the spike counts, :math:`\\mathrm{CE}(\\sum_t o_t, y)`."""
    return _ce(out.astype(at_least_float32(out)).sum(axis=0), labels)


def mse_count(out: Array, labels: Array, readout: str = "mean", reduction: str = "mean",
              correct_rate: float = 1.0, incorrect_rate: float = 0.0) -> Array:
    """snnTorch ``mse_count_loss``: MSE between spike counts and ``T·correct_rate`` (the label's
    class) or ``T·incorrect_rate`` (the others), divided by T as snnTorch does.

    .. math::  L = \\frac1T\\,\\mathrm{MSE}\\Big(\\sum_t o_t,\\; T\\,(r_+ \\mathbb 1_y + r_- (1 - \\mathbb 1_y))\\Big)

    snnTorch truncates the targets to integers (``int(T·rate)``); here they are ``T·rate`` exactly.
    """
    counts = out.astype(at_least_float32(out)).sum(axis=0)
    steps = out.shape[0]
    one_hot = jax.nn.one_hot(labels, counts.shape[-1], dtype=counts.dtype)
    target = steps * (correct_rate * one_hot + incorrect_rate * (1 - one_hot))
    return _mse(counts, target, reduction) / steps


def tet(out: Array, labels: Array, readout: str = "mean", reduction: str = "mean",
        tet_lambda: float = 0.0, tet_target: float = 1.0) -> Array:
    """Temporal efficient training (Deng et al. 2022, "Temporal efficient training of spiking neural
    network via gradient re-weighting", Eq. 8–10).

    .. math::  L = (1 - \\lambda)\\,\\frac1T \\sum_t \\mathrm{CE}(o_t, y)
               + \\lambda\\,\\frac1T \\sum_t \\mathrm{MSE}(o_t, \\phi)

    With λ = 0 (the default) this is SpikingJelly's ``temporal_efficient_training_cross_entropy``
    (and equals :func:`ce_rate`); ``tet_target`` is φ.
    """
    logits = out.astype(at_least_float32(out))
    ce = ce_rate(logits, labels)
    if tet_lambda == 0:
        return ce
    return (1 - tet_lambda) * ce + tet_lambda * jnp.mean(jnp.square(logits - tet_target))


def mse_membrane(out: Array, labels: Array, readout: str = "mean", reduction: str = "mean",
                 on_target: float = 1.0, off_target: float = 0.0) -> Array:
    """snnTorch ``mse_membrane_loss``: every step's membrane (a non-spiking readout) against
    ``on_target`` for the label's class and ``off_target`` for the others, averaged over time."""
    mem = out.astype(at_least_float32(out))
    one_hot = jax.nn.one_hot(labels, mem.shape[-1], dtype=mem.dtype)
    target = on_target * one_hot + off_target * (1 - one_hot)
    return jnp.mean(jax.vmap(lambda m: _mse(m, target, reduction))(mem))


def ce_max_membrane(out: Array, labels: Array, readout: str = "mean", reduction: str = "mean") -> Array:
    """snnTorch ``ce_max_membrane_loss``: cross-entropy of the maximum membrane over time."""
    return _ce(out.astype(at_least_float32(out)).max(axis=0), labels)


LOSSES: Registry[Callable[..., Array]] = Registry("loss", {
    "mse_rate": mse_rate,
    "cross_entropy": cross_entropy,
    "mse_regression": mse_regression,
    "ce_rate": ce_rate,
    "ce_count": ce_count,
    "mse_count": mse_count,
    "tet": tet,
    "mse_membrane": mse_membrane,
    "ce_max_membrane": ce_max_membrane,
})

# Which losses make sense for which task (snnjax.data.Dataset.task).
LOSSES_FOR_TASK: dict[str, tuple[str, ...]] = {
    "classification": ("mse_rate", "cross_entropy", "ce_rate", "ce_count", "mse_count", "tet", "mse_membrane",
                       "ce_max_membrane"),
    "sequence_classification": ("cross_entropy",),
    "regression": ("mse_regression",),
}


def get(name: str) -> Callable[..., Array]:
    """The loss ``fn(out, labels, readout, reduction, **options)`` registered as ``name``."""
    return LOSSES.lookup(name)


# The ``config.loss`` keys each loss takes (beyond name, local_weight and reduction).
LOSS_OPTIONS: dict[str, tuple[str, ...]] = {
    "mse_count": ("correct_rate", "incorrect_rate"),
    "tet": ("tet_lambda", "tet_target"),
    "mse_membrane": ("on_target", "off_target"),
}


# --------------------------------------------------------------------------- spike-count regularisers
#
# On the ``spike_counts`` collection the spiking layers sow (``count``: each neuron's spikes over the
# call's steps, ``[B, ...]`` per layer): ``model.apply(..., mutable=["spike_counts"])``.


def _layer_counts(spike_counts) -> list[Array]:
    return [c.astype(at_least_float32(c)).reshape(c.shape[0], -1) for c in jax.tree.leaves(spike_counts)]


def l1_rate_sparsity(spike_counts, weight: float = 1e-5) -> Array:
    """snnTorch ``l1_rate_sparsity(Lambda)``: ``weight ·`` the total number of spikes (all layers, batch)."""
    return weight * sum(jnp.sum(c) for c in _layer_counts(spike_counts))


def silence_reg(spike_counts, min_spikes: float) -> Array:
    """Spyx ``silence_reg(min_spikes)``: :math:`\\sum_{\\text{neurons}} \\max(0, m - \\bar c_n)^2`, with
    :math:`\\bar c_n` a neuron's spike count averaged over the batch (silent neurons are penalised)."""
    return sum(jnp.sum(jnp.square(jnp.maximum(0.0, min_spikes - c.mean(axis=0)))) for c in _layer_counts(spike_counts))


def sparsity_reg(spike_counts, max_spikes: float) -> Array:
    """Spyx ``sparsity_reg(max_spikes)``: per example and layer, the Huber loss of how far the layer's
    mean spike count per neuron exceeds ``max_spikes``, summed."""
    return sum(jnp.sum(optax.huber_loss(jnp.maximum(0.0, c.mean(axis=-1) - max_spikes)))
               for c in _layer_counts(spike_counts))


# config.loss key of the weight -> (regulariser, its parameter's config.loss key or None)
REGULARISERS: dict[str, tuple[Callable[..., Array], str | None]] = {
    "l1_rate_sparsity": (lambda counts, _: l1_rate_sparsity(counts, 1.0), None),
    "silence_reg": (silence_reg, "silence_min_spikes"),
    "sparsity_reg": (sparsity_reg, "sparsity_max_spikes"),
}

LOSS_CONFIG_DEFAULTS = dict(
    correct_rate=1.0, incorrect_rate=0.0, tet_lambda=0.0, tet_target=1.0, on_target=1.0, off_target=0.0,
    l1_rate_sparsity=0.0, silence_reg=0.0, silence_min_spikes=1.0, sparsity_reg=0.0, sparsity_max_spikes=1.0,
)


def config_problems(loss_cfg) -> list[str]:
    """What is wrong with a ``config.loss`` section, one message per problem (empty: fine).

    The training loop (``snnjax.tool.train_steps``) computes its loss with :func:`total_loss_from_config`,
    so every option and regulariser checked here is applied by ``train.py``.
    """
    problems = [p for p in (choice_problem("loss.name", loss_cfg.get("name"), LOSSES),
                            choice_problem("loss.reduction", loss_cfg.get("reduction", "mean"), REDUCTIONS)) if p]
    for key in REGULARISERS:
        if float(loss_cfg.get(key, 0.0)) < 0:
            problems.append(f"loss.{key}={loss_cfg.get(key)} is a weight and must be >= 0 (0 = off)")
    lam = float(loss_cfg.get("tet_lambda", 0.0))
    if not 0.0 <= lam <= 1.0:
        problems.append(f"loss.tet_lambda={lam} must be in [0, 1] (the weight of TET's MSE term)")
    for key in ("correct_rate", "incorrect_rate"):
        if not 0.0 <= float(loss_cfg.get(key, 0.0)) <= 1.0:
            problems.append(f"loss.{key}={loss_cfg.get(key)} is a firing rate per step and must be in [0, 1]")
    return problems


def regularisation(spike_counts, loss_cfg) -> tuple[Array, dict[str, Array]]:
    """The weighted sum of the regularisers switched on in ``loss_cfg`` (weight > 0), and each one."""
    parts, weighted = {}, []
    for key, (fn, param_key) in REGULARISERS.items():
        weight = float(loss_cfg.get(key, 0.0))
        if weight > 0:
            value = fn(spike_counts, None if param_key is None else float(loss_cfg.get(param_key, LOSS_CONFIG_DEFAULTS[param_key])))
            parts[f"reg_{key}"] = value
            weighted.append(weight * value)
    # In the counts' precision (float64 in a float64 model); 0 in float32 when none is on.
    total = sum(weighted) if weighted else jnp.zeros((), jnp.float32)
    return total, parts


def uses_spike_counts(loss_cfg) -> bool:
    """Whether ``loss_cfg`` switches a regulariser on (the model must then sow ``spike_counts``)."""
    return any(float(loss_cfg.get(key, 0.0)) > 0 for key in REGULARISERS)


def total_loss_from_config(output: ModelOutput, labels: Array, loss_cfg, spike_counts=None) -> tuple[Array, dict[str, Array]]:
    """:func:`total_loss` with the loss's options and the regularisers of a ``config.loss`` section.

    ``spike_counts``: the ``spike_counts`` collection of the same forward pass (needed when a
    regulariser is on).
    """
    problems = config_problems(loss_cfg)
    if problems:
        raise ValueError("; ".join(problems))
    name = loss_cfg["name"]
    options = {k: float(loss_cfg.get(k, LOSS_CONFIG_DEFAULTS[k])) for k in LOSS_OPTIONS.get(name, ())}
    loss_fn = LOSSES[name]
    fn = lambda out, y, readout, red: loss_fn(out, y, readout, red, **options)  # noqa: E731
    reduction = loss_cfg.get("reduction", "mean")
    local_weight = float(loss_cfg.get("local_weight", 1.0))
    total = fn(output.out, labels, output.readout, reduction)
    parts = {"loss_global": total}
    for i, local in enumerate(output.local_outs):
        parts[f"loss_local_{i}"] = fn(local, labels, output.readout, reduction)
        total = total + local_weight * parts[f"loss_local_{i}"]
    if uses_spike_counts(loss_cfg):
        if spike_counts is None:
            raise ValueError("a spike-count regulariser is on: pass the spike_counts collection of the forward "
                             "pass (model.apply(..., mutable=['spike_counts']))")
        reg, reg_parts = regularisation(spike_counts, loss_cfg)
        parts.update(reg_parts)
        total = total + reg.astype(total.dtype)  # float32 counts (a float32 layer) in a float64 run
    parts["loss"] = total
    return total, parts
