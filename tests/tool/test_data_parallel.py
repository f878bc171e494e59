"""Data parallelism: training on a mesh of 4 (fake CPU) devices equals training on 1 device.

tests/conftest.py forces 4 host-platform devices. The model has BatchNorm, and each device's shard
of the batch is drawn from a different input distribution, so per-device BatchNorm statistics would
give different running statistics and gradients: equality holds only if the statistics are over the
global batch, which GSPMD does because the batch is one global array sharded on ``data``.
"""

import jax
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec

from snnjax.tool import evaluation
from snnjax.tool import optim
from snnjax.tool import input_pipeline as pipeline
from snnjax.tool import train_lib as tl
from snnjax.tool import train_steps as steps
from snnjax.tool.config import base_config
from snnjax.models import build_model

NUM_DEVICES = 4
GLOBAL_BATCH = 16


def _cpu_devices():
    """The fake CPU devices (also on a machine with one GPU, whose default backend is the GPU)."""
    devices = jax.devices("cpu")
    if len(devices) < NUM_DEVICES:
        pytest.skip(f"needs {NUM_DEVICES} CPU devices (tests/conftest.py forces them with XLA_FLAGS)")
    return devices


def _config():
    config = base_config()
    config.model.spec = "4c3-p2-8c3-p2-10"
    config.model.time_steps = 2
    config.model.norm = "bn"
    config.optim.learning_rate = 1e-2
    return config


def _batches(num_steps: int, rng: np.random.Generator):
    """Batches whose four shards differ in scale, so per-shard statistics would not be global ones."""
    for _ in range(num_steps):
        x = rng.random((GLOBAL_BATCH, 8, 8, 1), dtype=np.float32)
        x *= np.repeat(np.arange(1, NUM_DEVICES + 1, dtype=np.float32), GLOBAL_BATCH // NUM_DEVICES)[:, None, None, None]
        y = rng.integers(0, 10, GLOBAL_BATCH).astype(np.int32)
        yield x, y


def _train(mesh, initial, num_steps=3):
    config = _config()
    model = build_model(config.model, 10)
    tx, schedule = optim.make_optimizer(config.optim, steps_per_epoch=10, num_epochs=1)
    state = jax.device_put(initial, NamedSharding(mesh, PartitionSpec()))  # replicated over the mesh
    step = steps.jit_train_step(steps.make_train_step(model, tx, schedule, config.loss, "classification",
                                                jax.random.PRNGKey(1)), mesh)
    losses = []
    for x, y in _batches(num_steps, np.random.default_rng(0)):
        xs, ys = pipeline.shard_batch((x, y), mesh)
        assert len(xs.sharding.device_set) == mesh.size
        state, metrics = step(state, xs, ys)
        losses.append(float(metrics["loss"]))
    # the step compiled once; a batch of another shape would recompile, which the guard refuses
    with pytest.raises(AssertionError, match="traced 2 times"):
        step(state, *pipeline.shard_batch((x[:mesh.size], y[:mesh.size]), mesh))
    return jax.device_get(state), losses, model, state


@pytest.fixture(scope="module")
def runs():
    devices = _cpu_devices()
    mesh4 = pipeline.make_mesh(devices[:NUM_DEVICES])
    mesh1 = pipeline.make_mesh(devices[:1])
    config = _config()
    model = build_model(config.model, 10)
    tx, _ = optim.make_optimizer(config.optim, steps_per_epoch=10, num_epochs=1)
    initial = jax.device_get(steps.create_train_state(model, tx, (8, 8, 1), jax.random.PRNGKey(0), mesh1))
    return _train(mesh4, initial), _train(mesh1, initial), mesh4, mesh1


@pytest.mark.slow
def test_four_devices_train_like_one(runs):
    (state4, losses4, _, live4), (state1, losses1, _, _), mesh4, _ = runs
    assert mesh4.size == NUM_DEVICES
    # the state stays replicated over the mesh
    leaf = jax.tree.leaves(live4.params)[0]
    assert len(leaf.sharding.device_set) == NUM_DEVICES and leaf.sharding.is_fully_replicated
    np.testing.assert_allclose(losses4, losses1, rtol=1e-5)
    assert int(state4.step) == int(state1.step) == 3
    for name in ("params", "batch_stats", "opt_state"):
        a, b = getattr(state4, name), getattr(state1, name)
        assert jax.tree.structure(a) == jax.tree.structure(b)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=2e-5, atol=1e-6, err_msg=name)


@pytest.mark.slow
def test_device_loop_on_four_devices_trains_like_one_device_step_by_step(runs):
    """The same 3 batches as one device-loop call (K = 3, data held replicated, batches gathered and
    sharded on the device) on 4 devices: the state equals the 1-device host loop's."""
    from snnjax.tool import device_loop

    (_, _, _, _), (state1, losses1, model, _), mesh4, mesh1 = runs
    config = _config()
    tx, schedule = optim.make_optimizer(config.optim, steps_per_epoch=10, num_epochs=1)
    initial = jax.device_get(steps.create_train_state(model, tx, (8, 8, 1), jax.random.PRNGKey(0), mesh1))
    xs, ys = zip(*_batches(3, np.random.default_rng(0)))
    arrays = device_loop.HostArrays(np.concatenate(xs), np.concatenate(ys))
    step = steps.make_train_step(model, tx, schedule, config.loss, "classification", jax.random.PRNGKey(1),
                                 keep_last_good=False)
    call = device_loop.make_train_call(step, mesh4, GLOBAL_BATCH, 3, 1.0)
    state = jax.device_put(initial, NamedSharding(mesh4, PartitionSpec()))
    x_all, y_all = device_loop.put_replicated(arrays, mesh4)
    order = device_loop.put_replicated_array(np.arange(3 * GLOBAL_BATCH, dtype=np.int32), mesh4)
    state, metrics = call(state, x_all, y_all, order, np.int32(0), np.int32(3))
    metrics = jax.device_get(metrics)
    np.testing.assert_allclose(metrics["loss"], losses1, rtol=1e-5)
    assert int(state.step) == 3 and bool(np.all(metrics["finite"]))
    for x, y in zip(jax.tree.leaves(jax.device_get(state)), jax.tree.leaves(state1)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=2e-5, atol=1e-6)


def test_shards_differ_so_per_device_statistics_would_show():
    """The check above has power: per-shard variances average to far less than the global one."""
    x, _ = next(_batches(1, np.random.default_rng(0)))
    shards = x.reshape(NUM_DEVICES, -1)
    assert shards.var(axis=1).mean() < 0.7 * x.var()


def test_sharded_eval_equals_single_device(runs):
    (_, _, model, live4), _, mesh4, mesh1 = runs
    from snnjax.data.dataset import ArraySplit

    rng = np.random.default_rng(1)
    split = ArraySplit(rng.random((21, 8, 8, 1), dtype=np.float32), rng.integers(0, 10, 21).astype(np.int32))
    config = _config()
    results = []
    for mesh in (mesh4, mesh1):
        state = jax.device_put(jax.device_get(live4), NamedSharding(mesh, PartitionSpec()))
        step = steps.jit_eval_step(steps.make_eval_step(model, config.loss, "classification", jax.random.PRNGKey(2)), mesh)
        results.append(evaluation.evaluate(step, state, split, 8, mesh))
    for k in results[0].metrics:
        np.testing.assert_allclose(results[0].metrics[k], results[1].metrics[k], rtol=1e-5, err_msg=k)
    for k in results[0].firing_rates:
        np.testing.assert_allclose(results[0].firing_rates[k], results[1].firing_rates[k], rtol=1e-5, err_msg=k)


def test_batch_not_divisible_by_devices_is_refused_before_compiling(tmp_path):
    from snnjax.tool.validate import ConfigError

    config = _config()
    config.train.batch_size = 6
    with pytest.raises(ConfigError, match="divisible by the 4 devices"):
        tl.train_and_evaluate(config, tmp_path, devices=_cpu_devices()[:NUM_DEVICES], progress=False)
    assert not (tmp_path / "checkpoints").exists()
