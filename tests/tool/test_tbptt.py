"""Truncated BPTT (``train.tbptt_steps``, issue 33 §2): the loss of the whole sequence, the gradient
without the paths through the state carried between chunks.

With chunks of T steps or more it is the full gradient; with shorter chunks it equals a hand-written
chunked computation (the state ``stop_gradient``-ed at every chunk boundary, one ``jax.grad`` over
all chunks) and differs from the full gradient; it trains through ``train_and_evaluate``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from snnjax import layers
from snnjax.configs import smoke_ce_lif
from snnjax.core import losses
from snnjax.core.output import ModelOutput
from snnjax.models import SequenceSNN, build_model
from snnjax.tool import train_lib
from snnjax.tool import train_steps
from snnjax.tool.config import base_config
from snnjax.tool.validate import ConfigError, check_config

NETS = {
    "ce_lif": dict(hidden=(8, 6)),
    "lif-recurrent-li-readout": dict(hidden=(5, 4), recurrent_layers=(0,), readout_decay=0.8,
                                     neuron=layers.NeuronConfig(kind="lif", decay=0.6, v_th=0.2)),
}
T = 36  # 6 x 6 pixels, one per step
LOSS = dict(name="cross_entropy")


def _setup(name):
    model = SequenceSNN(num_outputs=4, **NETS[name])
    x = jax.random.uniform(jax.random.key(1), (3, 6, 6, 1), jnp.float64)
    y = jnp.array([0, 3, 1])
    params = model.init(jax.random.key(0), x, train=False)["params"]
    return model, jax.tree.map(lambda p: p.astype(jnp.float64), params), x, y


def _loss_cfg():
    cfg = base_config().loss
    cfg.update(LOSS)
    return cfg


def _loss_of(y):
    """Cross-entropy plus a regulariser on the summed spike counts, nonlinear (as Spyx's silence_reg),
    in float64 (the library's regularisers sum in float32)."""
    def loss_of(output, counts):
        loss, parts = losses.total_loss_from_config(output, y, _loss_cfg())
        reg = sum(jnp.sum(jnp.square(c.astype(jnp.float64).mean(0) - 3.0)) for c in jax.tree.leaves(counts))
        return loss + 1e-3 * reg, parts

    return loss_of


def _full(model, params, x, y):
    def loss(params):
        output, cols = model.apply({"params": params}, x, train=True, mutable=["spike_counts"])
        return _loss_of(y)(output, cols["spike_counts"])[0]

    return jax.jit(jax.value_and_grad(loss))(params)


def _hand_chunked(model, params, x, y, k, loss_of=None):
    """The truncated gradient written out: the chunks one after the other, the state stop_gradient-ed
    at each boundary, one jax.grad of the whole sequence's loss."""
    def loss(params):
        h = encode(x)
        outs, counts, state = [], None, None
        for start in range(0, T, k):
            (out, state), cols = model.apply({"params": params}, h[start:start + k], train=True, encoded=True,
                                             state=state, return_state=True, mutable=["spike_counts"])
            state = jax.lax.stop_gradient(state)
            outs.append(out.out)
            c = cols["spike_counts"]
            counts = c if counts is None else jax.tree.map(jnp.add, counts, c)
        output = ModelOutput(out=jnp.concatenate(outs), local_outs=(), readout=model.readout)
        return (loss_of or _loss_of(y))(output, counts)[0]

    def encode(x):
        return model.apply({"params": params}, x, method="encode")

    return jax.jit(jax.value_and_grad(loss))(params)


def _tbptt(model, params, x, y, k):
    def run(params):
        (loss, _), grads = train_steps.tbptt_value_and_grad(model, params, x, {}, _loss_of(y), k, spike_counts=True)
        return loss, grads

    return jax.jit(run)(params)


def _assert_trees_close(a, b):
    jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12), a, b)


@pytest.mark.slow
@pytest.mark.parametrize("k", [T, 50])
@pytest.mark.parametrize("name", sorted(NETS))
def test_chunks_of_T_steps_or_more_give_the_full_gradient(name, k):
    with jax.enable_x64(True):
        model, params, x, y = _setup(name)
        loss, grads = _tbptt(model, params, x, y, k)
        full_loss, full_grads = _full(model, params, x, y)
        np.testing.assert_allclose(loss, full_loss, rtol=1e-12, atol=0)
        _assert_trees_close(grads, full_grads)


@pytest.mark.slow
@pytest.mark.parametrize("k", [12, 5])  # 3 chunks; 7 chunks and one of a step
@pytest.mark.parametrize("name", sorted(NETS))
def test_shorter_chunks_drop_exactly_the_cross_chunk_terms(name, k):
    with jax.enable_x64(True):
        model, params, x, y = _setup(name)
        loss, grads = _tbptt(model, params, x, y, k)
        hand_loss, hand_grads = _hand_chunked(model, params, x, y, k)
        full_loss, full_grads = _full(model, params, x, y)
        np.testing.assert_allclose(loss, full_loss, rtol=1e-12, atol=0)  # the same loss...
        np.testing.assert_allclose(hand_loss, full_loss, rtol=1e-12, atol=0)
        _assert_trees_close(grads, hand_grads)  # ...the truncated gradient...
        first = next(iter(grads))
        difference = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), grads, full_grads)
        assert max(jax.tree.leaves(difference)) > 1e-6, first  # ...which is not the full one


@pytest.mark.slow
def test_the_train_step_takes_one_update_from_the_truncated_gradient():
    with jax.enable_x64(True):
        model, params, x, y = _setup("ce_lif")
        cfg = _loss_cfg()
        tx = optax.sgd(0.1)
        state = train_steps.TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats={},
                                       opt_state=tx.init(params))
        step = train_steps.make_train_step(model, tx, optax.constant_schedule(0.1), cfg, "classification",
                                           jax.random.key(2), tbptt_steps=5)
        new, metrics = jax.jit(step)(state, x, y)
        _, hand_grads = _hand_chunked(model, params, x, y, 5, lambda out, _: losses.total_loss_from_config(out, y, cfg))
        expected = jax.tree.map(lambda p, g: p - 0.1 * g, params, hand_grads)
        _assert_trees_close(new.params, expected)
        assert bool(metrics["finite"]) and int(new.step) == 1


def test_a_model_without_carried_state_is_refused():
    config = base_config()
    config.train.tbptt_steps = 4
    with pytest.raises(ConfigError, match=r"train.tbptt_steps=4 needs a model that carries its state"):
        check_config(config)  # the default model is the conv net
    model = build_model(config.model, 10)
    with pytest.raises(ValueError, match="train.tbptt_steps=4: give 0"):
        train_steps.make_train_step(model, optax.sgd(0.1), optax.constant_schedule(0.1), config.loss,
                                    "classification", jax.random.key(0), tbptt_steps=4)


@pytest.mark.slow
def test_a_short_run_with_truncated_bptt_trains(tmp_path):
    config = smoke_ce_lif.get_config()
    config.model.hidden = (8, 8)
    config.data.num_train, config.data.num_test = 256, 64
    config.train.batch_size, config.train.eval_batch_size = 32, 64
    config.train.num_steps, config.train.log_every_steps, config.train.checkpoint_every_steps = 4, 2, 0
    config.train.tbptt_steps = 6  # T = 20: chunks of 6, 6, 6 and 2
    summary = train_lib.train_and_evaluate(config, tmp_path, progress=False)
    assert summary["steps"] == 4
    assert np.isfinite(summary["final_test_mse"])
