"""The pure training and evaluation steps, and how they are jitted over a mesh.

``make_train_step`` builds ``(state, x, y) -> (state, metrics)``: forward in train mode, loss,
gradients, optimiser update and the NaN guard; ``make_eval_step`` builds the eval-mode step that
returns masked metric sums, firing rates and synaptic costs. Both are pure functions of their
arguments (the dropout/encoder keys are ``fold_in(key, state.step)``), so the loop may run them one
per dispatch or many inside a ``lax.while_loop`` (:mod:`snnjax.tool.device_loop`) with the same results.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import struct, traverse_util
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from snnjax.core import losses
from snnjax.core.output import ModelOutput

PyTree = Any


class NonFiniteLossError(FloatingPointError):
    """The loss, the gradients or the updated parameters became NaN or infinite."""


@struct.dataclass
class TrainState:
    """Everything a training step changes (a pytree; checkpointed as is).

    Attributes:
        step: int32 scalar, optimiser steps taken.
        params: the ``params`` collection.
        batch_stats: the ``batch_stats`` collection (running BatchNorm statistics), maybe empty.
        opt_state: the optax state.
    """

    step: jax.Array
    params: PyTree
    batch_stats: PyTree
    opt_state: PyTree



def _rngs(key: jax.Array) -> dict[str, jax.Array]:
    dropout, encoder = jax.random.split(key)
    return {"dropout": dropout, "encoder": encoder}


def init_state(model: nn.Module, tx: optax.GradientTransformation, example_x: jax.Array,
               key: jax.Array) -> TrainState:
    """A fresh ``TrainState`` (pure; run it under ``jax.jit`` or ``jax.eval_shape``).

    Only ``params`` and ``batch_stats`` are mutable in the init pass, so the monitors (spike rates,
    membranes, synaptic operations) compute nothing there: the same parameters, a smaller program.
    """
    k_params, k_rest = jax.random.split(key)
    variables = model.init({"params": k_params, **_rngs(k_rest)}, example_x, train=False,
                           mutable=["params", "batch_stats"])
    params = variables["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      batch_stats=variables.get("batch_stats", {}), opt_state=tx.init(params))


def create_train_state(model: nn.Module, tx: optax.GradientTransformation, input_shape: tuple,
                       key: jax.Array, mesh: Mesh) -> TrainState:
    """Initialises the state directly as replicated arrays on ``mesh``."""
    def init(k):
        return init_state(model, tx, jnp.zeros((1, *input_shape), jnp.float32), k)

    return jax.jit(init, out_shardings=NamedSharding(mesh, P()))(key)


def task_metrics(output: ModelOutput, y: jax.Array, task: str) -> dict[str, jax.Array]:
    """``accuracy`` for classification tasks, ``mse`` of the scalar read-out for regression."""
    if task == "regression":
        pred = output.prediction().astype(jnp.float32)[..., 0]
        return {"mse": jnp.mean(jnp.square(pred - y.astype(jnp.float32)))}
    return {"accuracy": losses.accuracy(output, y)}


def _float_leaves(state: TrainState) -> list[tuple[str, jax.Array]]:
    """``(path, leaf)`` of every floating-point leaf of the parts of ``state`` a step changes."""
    out = []
    for part in ("params", "batch_stats", "opt_state"):
        for path, leaf in jax.tree_util.tree_flatten_with_path(getattr(state, part))[0]:
            if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
                out.append((part + "/" + jax.tree_util.keystr(path, simple=True, separator="/"), leaf))
    return out


def guarded_names(state: TrainState) -> list[str]:
    """What ``metrics["nonfinite_leaf"]`` of :func:`make_train_step` indexes: ``loss``,
    ``grad_norm``, then every float leaf of the new state (``params/conv0/conv/kernel``, ...)."""
    return ["loss", "grad_norm", *(name for name, _ in _float_leaves(state))]


def nonfinite_check(loss: jax.Array, grad_norm: jax.Array, state: TrainState) -> dict[str, jax.Array]:
    """Whether the loss, the gradient norm and every float leaf of ``state`` are finite.

    Each leaf is reduced once to the sum of its non-finite entries, ``Σ where(isfinite(v), 0, v)``
    (0 exactly when the leaf is finite; else NaN or ±inf, the value the error message prints), so
    the check costs one read of the new state and no select.

    Returns:
        ``finite`` (bool), ``nonfinite_leaf`` (int32 index into :func:`guarded_names`, -1 if none)
        and ``nonfinite_value`` (float32: that leaf's non-finite value).
    """
    values = [loss, grad_norm] + [leaf for _, leaf in _float_leaves(state)]
    bad = jnp.stack([jnp.sum(jnp.where(jnp.isfinite(v), jnp.zeros((), v.dtype), v)).astype(jnp.float32)
                     for v in values])
    flags = ~(bad == 0)  # NaN compares unequal: flagged
    first = jnp.argmax(flags).astype(jnp.int32)
    finite = ~jnp.any(flags)
    return {"finite": finite, "nonfinite_leaf": jnp.where(finite, -1, first), "nonfinite_value": bad[first]}


def make_train_step(model: nn.Module, tx: optax.GradientTransformation, schedule: optax.Schedule,
                    loss_cfg: ml_collections.ConfigDict, task: str, base_key: jax.Array,
                    keep_last_good: bool = True):
    """The pure train step ``(state, x, y) -> (state, metrics)``.

    The dropout and encoder keys are ``fold_in(base_key, state.step)``. Every step checks the loss,
    the gradient norm and every float leaf of the new state (parameters, BatchNorm statistics,
    optimiser state) with :func:`nonfinite_check`; ``metrics["finite"]`` says the result.

    Args:
        keep_last_good: a non-finite step returns the input state unchanged, so the state never holds
            NaN (a select over the whole state). The training loop passes False: it stops at the first
            non-finite step and never saves or evaluates a state after it, so it skips the select.
    """
    # The regularisers of config.loss need every layer's spike counts of the same forward pass.
    mutable = ["batch_stats", "spike_counts"] if losses.uses_spike_counts(loss_cfg) else ["batch_stats"]

    def train_step(state: TrainState, x: jax.Array, y: jax.Array) -> tuple[TrainState, dict]:
        key = jax.random.fold_in(base_key, state.step)

        def loss_fn(params):
            output, updates = model.apply(
                {"params": params, "batch_stats": state.batch_stats}, x, train=True,
                rngs=_rngs(key), mutable=mutable)
            loss, parts = losses.total_loss_from_config(output, y, loss_cfg, updates.get("spike_counts"))
            return loss, (output, updates.get("batch_stats", {}), parts)

        (loss, (output, batch_stats, parts)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        grad_norm = optax.tree.norm(grads)
        new = TrainState(step=state.step + 1, params=params, batch_stats=batch_stats, opt_state=opt_state)
        check = nonfinite_check(loss, grad_norm, new)
        if keep_last_good:
            new = jax.tree.map(lambda n, o: jnp.where(check["finite"], n, o), new, state)
        metrics = {**parts, **task_metrics(output, y, task), "grad_norm": grad_norm,
                   "learning_rate": schedule(state.step), **check}
        return new, metrics

    return train_step


def trace_once(fn: Callable) -> Callable:
    """``fn`` that raises if traced twice: under ``jax.jit`` a second trace means a recompile (an
    input's shape, dtype or sharding changed), which would silently slow every epoch.

    Like ``chex.assert_max_traces(n=1)``, but counting per wrapped closure, so that a second run in
    the same process (tests) builds a fresh step without tripping the guard.
    """
    traces = 0

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        nonlocal traces
        traces += 1
        if traces > 1:
            raise AssertionError(f"{fn.__name__} traced {traces} times: an input changed shape, dtype or "
                                 "sharding, forcing a recompile")
        return fn(*args, **kwargs)

    return wrapped


def jit_train_step(train_step, mesh: Mesh):
    """``train_step`` jitted for ``mesh``: state replicated and donated, batch sharded on ``data``,
    guarded by :func:`trace_once`."""
    replicated, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    return jax.jit(trace_once(train_step), in_shardings=(replicated, batch, batch),
                   out_shardings=(replicated, replicated), donate_argnums=0)


def per_example_metrics(output: ModelOutput, y: jax.Array, loss_cfg: ml_collections.ConfigDict,
                        task: str) -> dict[str, jax.Array]:
    """Loss parts and task metrics of each example, ``[B]`` each.

    Each example is scored as a batch of one with the library's own loss and metric functions, so
    the mean of these over a set is exactly the batch loss/metric over that set.
    """

    # The task loss with its options; the spike-count regularisers are training terms, not scores.
    task_loss_cfg = {**dict(loss_cfg.items()), **{k: 0.0 for k in losses.REGULARISERS}}

    def one(out, local_outs, y1):
        o = ModelOutput(out=out[:, None], local_outs=tuple(l[:, None] for l in local_outs),
                        readout=output.readout)
        _, parts = losses.total_loss_from_config(o, y1[None], task_loss_cfg)
        return {**parts, **task_metrics(o, y1[None], task)}

    return jax.vmap(one, in_axes=(1, 1, 0))(output.out, output.local_outs, y)


def _sown(tree: Mapping, leaf_name: str) -> dict[str, Any]:
    """``{module path: values}`` of a sown collection (``conv0/neuron/rate`` → ``conv0/neuron``)."""
    flat = traverse_util.flatten_dict(flax.core.unfreeze(tree), sep="/")
    return {k[: -len(leaf_name) - 1]: v for k, v in flat.items() if k.endswith("/" + leaf_name)}


def make_eval_step(model: nn.Module, loss_cfg: ml_collections.ConfigDict, task: str, key: jax.Array):
    """The pure eval step ``(state, x, y, mask) -> (sums, rates, synops)``, in eval mode.

    Returns masked sums of the per-example metrics (plus ``count``), the batch's mean firing rate
    per spiking layer, and per synaptic layer ``macs, input_rate, analog_input, steps``.
    """

    def eval_step(state: TrainState, x: jax.Array, y: jax.Array, mask: jax.Array):
        output, cols = model.apply({"params": state.params, "batch_stats": state.batch_stats}, x,
                                   train=False, rngs=_rngs(key), mutable=["spikes", "synops"])
        weights = mask.astype(jnp.float32)
        per_example = per_example_metrics(output, y, loss_cfg, task)
        sums = {k: jnp.sum(v * weights) for k, v in per_example.items()}
        sums["count"] = jnp.sum(weights)
        # A module called several times sows several values: average them.
        rates = {k: jnp.mean(jnp.stack(v)) for k, v in _sown(cols.get("spikes", {}), "rate").items()}
        synops = {}
        for k, calls in _sown(cols.get("synops", {}), "cost").items():
            synops[k] = dict(calls[0], input_rate=jnp.mean(jnp.stack([c["input_rate"] for c in calls])))
        return sums, rates, synops

    return eval_step


def jit_eval_step(eval_step, mesh: Mesh):
    replicated, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    return jax.jit(eval_step, in_shardings=(replicated, batch, batch, batch), out_shardings=replicated)

