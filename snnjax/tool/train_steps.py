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
                    keep_last_good: bool = True, tbptt_steps: int = 0):
    """The pure train step ``(state, x, y) -> (state, metrics)``.

    The dropout and encoder keys are ``fold_in(base_key, state.step)``. Every step checks the loss,
    the gradient norm and every float leaf of the new state (parameters, BatchNorm statistics,
    optimiser state) with :func:`nonfinite_check`; ``metrics["finite"]`` says the result.

    Args:
        keep_last_good: a non-finite step returns the input state unchanged, so the state never holds
            NaN (a select over the whole state). The training loop passes False: it stops at the first
            non-finite step and never saves or evaluates a state after it, so it skips the select.
        tbptt_steps: 0 for backpropagation through all the steps; k > 0 (sequence nets,
            ``config.train.tbptt_steps``) for the truncated gradient of :func:`tbptt_value_and_grad`,
            chunks of k steps, one optimiser update per batch.
    """
    # The regularisers of config.loss need every layer's spike counts of the same forward pass.
    mutable = ["batch_stats", "spike_counts"] if losses.uses_spike_counts(loss_cfg) else ["batch_stats"]
    if tbptt_steps < 0 or tbptt_steps and not hasattr(model, "initial_state"):
        raise ValueError(f"train.tbptt_steps={tbptt_steps}: give 0 (off) or k > 0 steps per chunk, for a model that "
                         "carries its state between calls (model.arch='sequence')")

    def train_step(state: TrainState, x: jax.Array, y: jax.Array) -> tuple[TrainState, dict]:
        key = jax.random.fold_in(base_key, state.step)

        def loss_fn(params):
            output, updates = model.apply(
                {"params": params, "batch_stats": state.batch_stats}, x, train=True,
                rngs=_rngs(key), mutable=mutable)
            loss, parts = losses.total_loss_from_config(output, y, loss_cfg, updates.get("spike_counts"))
            return loss, (output, updates.get("batch_stats", {}), parts)

        if tbptt_steps:
            def loss_of(output, spike_counts):
                return losses.total_loss_from_config(output, y, loss_cfg, spike_counts)

            (loss, (output, parts)), grads = tbptt_value_and_grad(
                model, state.params, x, _rngs(key), loss_of, tbptt_steps, losses.uses_spike_counts(loss_cfg))
            batch_stats = state.batch_stats  # sequence nets keep none
        else:
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


def tbptt_value_and_grad(model: nn.Module, params: PyTree, x: jax.Array, rngs: dict[str, jax.Array],
                         loss_of: Callable[[ModelOutput, PyTree], tuple[jax.Array, dict]], chunk_steps: int,
                         spike_counts: bool = False) -> tuple[tuple[jax.Array, tuple[ModelOutput, dict]], PyTree]:
    r"""Truncated backpropagation through time: the loss of the whole sequence, and its gradient with
    the paths through the state carried between chunks of ``chunk_steps`` steps cut.

    The sequence ``h = encode(x)`` ``[T, B, ...]`` is split into chunks of ``chunk_steps`` steps (the
    last one shorter when T is not a multiple). With :math:`s_c` the model's state entering chunk
    ``c`` and :math:`o_c = f(\theta, s_c, h_c)` its outputs, the loss :math:`L(o_1, \dots, o_C)` is that
    of one call over all T steps (the same values), and the gradient is

    .. math:: \tilde g = \sum_c \Big(\frac{\partial f(\theta, s_c, h_c)}{\partial \theta}\Big)^{\!\top}
        \frac{\partial L}{\partial o_c},

    the full gradient without the terms through :math:`s_{c+1} = F(\theta, s_c, h_c)` (as if each
    :math:`s_c` were ``stop_gradient``-ed): Williams & Peng (1990)'s BPTT(h; h) with one optimiser
    update per sequence, the chunks' gradients summed. It is a different gradient from BPTT (equal when
    ``chunk_steps >= T``): a parameter's effect on later chunks through the carried membranes is lost.

    Two passes, so that the backward pass holds one chunk at a time: a forward pass over the chunks
    without derivatives (keeping each chunk's entering state and the outputs), the loss's cotangents
    :math:`\partial L / \partial o_c` (and of the summed spike counts, for the regularisers), then a
    ``lax.scan`` over the chunks that recomputes each one from its entering state under ``jax.vjp``
    and sums its pulled-back cotangent. Memory: one chunk's residuals plus T/k states; one extra
    forward pass.

    Args:
        model: a model with ``encode`` and ``initial_state`` methods and ``state``/``encoded`` calls
            (:class:`snnjax.nn.models.SequenceSNN`).
        params: its ``params`` collection.
        x: the batch-major data.
        rngs: the apply's random keys (the encoder's among them).
        loss_of: ``(output, spike_counts) -> (loss, parts)`` on the whole sequence's output.
        chunk_steps: steps per chunk, k >= 1.
        spike_counts: whether ``loss_of`` reads the ``spike_counts`` collection (else it gets None).

    Returns:
        ``((loss, (output, parts)), grads)``, as ``jax.value_and_grad(..., has_aux=True)``.
    """
    variables = {"params": params}
    h = model.apply(variables, x, method="encode", rngs=rngs)
    steps = h.shape[0]
    chunk_steps = min(chunk_steps, steps)  # one chunk of T steps: the full gradient
    state0 = model.apply(variables, h.shape[1], h.dtype, method="initial_state")

    def chunk(params, h_c, state):
        """One chunk from ``state``: ``(outputs, spike counts or None), state after it``."""
        mutable = ["spike_counts"] if spike_counts else []
        (output, new_state), cols = model.apply({"params": params}, h_c, train=True, encoded=True, state=state,
                                                return_state=True, rngs=rngs, mutable=mutable)
        return (output.out, cols.get("spike_counts") if spike_counts else None), new_state

    chunks = _Chunks(steps, chunk_steps)
    counts0 = None
    if spike_counts:  # the structure of a chunk's counts, zeros: the forward scan's initial carry
        counts0 = jax.tree.map(jnp.zeros_like, jax.eval_shape(lambda: chunk(params, h[:1], state0)[0][1]))
    outs, counts, entering = _tbptt_forward(chunk, params, chunks.split(h), state0, counts0)

    def loss_on(outs, counts):
        output = ModelOutput(out=outs, local_outs=(), readout=model.readout)
        loss, parts = loss_of(output, counts)
        return loss, (output, parts)

    (loss, aux), (g_outs, g_counts) = jax.value_and_grad(loss_on, argnums=(0, 1), has_aux=True)(outs, counts)
    grads = _tbptt_backward(chunk, params, chunks.split(h), entering, chunks.split(g_outs), g_counts)
    return (loss, aux), grads


class _Chunks:
    """``T`` steps as full chunks of ``k`` and a shorter remainder (empty when ``k`` divides ``T``)."""

    def __init__(self, steps: int, chunk_steps: int):
        self.full, self.k = steps // chunk_steps, chunk_steps

    def split(self, tree: PyTree) -> tuple[PyTree, PyTree | None]:
        """``[T, ...]`` leaves into ``([chunks, k, ...] full chunks, [rest, ...] the remainder or None)``."""
        cut = self.full * self.k
        head = jax.tree.map(lambda a: a[:cut].reshape((self.full, self.k) + a.shape[1:]), tree)
        rest = jax.tree.map(lambda a: a[cut:], tree)
        return head, (rest if jax.tree.leaves(rest)[0].shape[0] else None)


def _add_counts(total: PyTree | None, counts: PyTree | None) -> PyTree | None:
    return counts if total is None else jax.tree.map(jnp.add, total, counts)


def _tbptt_forward(chunk: Callable, params: PyTree, h_split: tuple, state0: PyTree,
                   counts0: PyTree | None) -> tuple[jax.Array, PyTree | None, tuple]:
    """:func:`tbptt_value_and_grad`'s pass 1, no derivatives: ``(outputs [T, ...], summed spike
    counts, (each full chunk's entering state, the remainder's))``, all ``stop_gradient``-ed."""
    h_head, h_rest = h_split

    def forward(carry, h_c):
        state, counts = carry
        (out, c_counts), new_state = chunk(params, h_c, state)
        return (new_state, _add_counts(counts, c_counts)), (out, state)

    (state, counts), (outs, entering) = jax.lax.scan(forward, (state0, counts0), h_head)
    outs = outs.reshape((outs.shape[0] * outs.shape[1],) + outs.shape[2:])
    if h_rest is not None:
        (out_rest, c_counts), _ = chunk(params, h_rest, state)
        outs, counts = jnp.concatenate([outs, out_rest]), _add_counts(counts, c_counts)
    return jax.lax.stop_gradient((outs, counts, (entering, state)))


def _tbptt_backward(chunk: Callable, params: PyTree, h_split: tuple, entering: tuple, g_split: tuple,
                    g_counts: PyTree | None) -> PyTree:
    """:func:`tbptt_value_and_grad`'s pass 2: each chunk's gradient from its entering state (the state
    it passes on gets no cotangent), summed; one chunk's residuals live at a time."""
    (h_head, h_rest), (g_head, g_rest), (entering_head, rest_state) = h_split, g_split, entering

    def chunk_grad(h_c, state, g_out):
        _, pull = jax.vjp(lambda p: chunk(p, h_c, state)[0], params)
        return pull((g_out, g_counts))[0]

    def backward(grads, xs):
        return jax.tree.map(jnp.add, grads, chunk_grad(*xs)), None

    grads, _ = jax.lax.scan(backward, jax.tree.map(jnp.zeros_like, params), (h_head, entering_head, g_head))
    if h_rest is not None:
        grads = jax.tree.map(jnp.add, grads, chunk_grad(h_rest, rest_state, g_rest))
    return grads


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

