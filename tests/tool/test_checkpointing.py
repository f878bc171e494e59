"""Tests for snnjax.tool.checkpointing (orbax CheckpointManager wrapper) and is_finite_tree."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.training import train_state
from jax.sharding import NamedSharding, PartitionSpec

from snnjax.tool import best_evaluation
from snnjax.tool import optim
from snnjax.tool.checkpointing import Checkpointer, is_finite_tree


def _train_state(jit_step: bool):
    params = {"dense": {"kernel": jnp.arange(6.0).reshape(2, 3), "bias": jnp.asarray([0.5, -1.0, 2.0])}}
    tx, _ = optim.make_optimizer(optim.default_optim_config(), steps_per_epoch=10, num_epochs=1)  # Adam
    state = train_state.TrainState.create(apply_fn=None, params=params, tx=tx)
    grads = jax.tree.map(jnp.ones_like, params)
    apply = jax.jit(lambda s, g: s.apply_gradients(grads=g)) if jit_step else (lambda s, g: s.apply_gradients(grads=g))
    for _ in range(3):
        state = apply(state, grads)
    return state


def _fresh_target(state):
    """Same structure as ``state`` but different values, as a restarted run would build it."""
    return state.replace(
        step=jax.tree.map(lambda x: x * 0, state.step),
        params=jax.tree.map(jnp.zeros_like, state.params),
        opt_state=jax.tree.map(jnp.zeros_like, state.opt_state),
    )


def _leaves_equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        assert np.asarray(x).dtype == np.asarray(y).dtype


@pytest.mark.parametrize("jit_step", [False, True], ids=["python-int-step", "array-step"])
def test_round_trip_train_state_and_meta(tmp_path, jit_step):
    state = _train_state(jit_step)
    assert isinstance(state.step, int) != jit_step
    meta = {"epoch": 2, "step_in_epoch": 3, "best": 0.75, "tag": "run-a"}
    with Checkpointer(tmp_path / "ckpt") as ckpt:
        assert ckpt.latest_step() is None
        assert ckpt.save(7, state, meta)
    # a new process would open a new Checkpointer
    with Checkpointer(tmp_path / "ckpt") as ckpt:
        assert ckpt.latest_step() == 7
        restored, restored_meta = ckpt.restore(target=_fresh_target(state))
    assert restored_meta == meta
    assert isinstance(restored, train_state.TrainState)
    assert int(restored.step) == 3
    if not jit_step:
        assert isinstance(restored.step, int)
    # Adam's count, mu and nu and the params come back bit for bit.
    _leaves_equal(restored.params, state.params)
    _leaves_equal(restored.opt_state, state.opt_state)
    assert int(restored.opt_state[0].count) == 3
    # training continues from the restored state exactly as from the original
    grads = jax.tree.map(jnp.ones_like, state.params)
    _leaves_equal(restored.apply_gradients(grads=grads).params, state.apply_gradients(grads=grads).params)


def test_older_steps_stay_until_max_to_keep_retires_them(tmp_path):
    with Checkpointer(tmp_path, max_to_keep=3) as ckpt:
        for step in (1, 2):
            ckpt.save(step, {"x": jnp.full((2,), float(step))}, {"epoch": step})
        ckpt.wait()
        assert ckpt.all_steps() == [1, 2]
        for step in (3, 4, 5):
            ckpt.save(step, {"x": jnp.full((2,), float(step))}, {"epoch": step})
        ckpt.wait()
        assert ckpt.all_steps() == [3, 4, 5]
        assert sorted(os.listdir(tmp_path)) == ["3", "4", "5"]
        for step in (3, 4, 5):
            state, meta = ckpt.restore(step, target={"x": jnp.zeros(2)})
            np.testing.assert_array_equal(state["x"], [step, step])
            assert meta == {"epoch": step}


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(10, {"x": jnp.ones(3)}, {"epoch": 1})
        ckpt.wait()
        with pytest.raises(ValueError):  # orbax cannot serialise this leaf
            ckpt.save(20, {"x": object()}, {"epoch": 2})
            ckpt.wait()
        with pytest.raises(TypeError):  # meta is not JSON: rejected before anything is written
            ckpt.save(30, {"x": jnp.ones(3)}, {"epoch": object()})
        assert ckpt.latest_step() == 10
        state, meta = ckpt.restore(target={"x": jnp.zeros(3)})
    np.testing.assert_array_equal(state["x"], [1.0, 1.0, 1.0])
    assert meta == {"epoch": 1}


def test_interrupted_save_is_ignored_then_cleaned_up(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(1, {"x": jnp.arange(3.0)}, {"epoch": 0})
    # What a process killed in the middle of writing step 2 leaves behind.
    partial = tmp_path / "2.orbax-checkpoint-tmp"
    (partial / "state").mkdir(parents=True)
    (partial / "state" / "garbage").write_bytes(b"\x00" * 10)
    with Checkpointer(tmp_path) as ckpt:
        assert ckpt.latest_step() == 1
        state, _ = ckpt.restore(target={"x": jnp.zeros(3)})
        np.testing.assert_array_equal(state["x"], [0.0, 1.0, 2.0])
        ckpt.save(2, {"x": jnp.arange(3.0) + 1}, {"epoch": 1})
        ckpt.wait()
        assert sorted(os.listdir(tmp_path)) == ["1", "2"]
        state, meta = ckpt.restore(target={"x": jnp.zeros(3)})
    np.testing.assert_array_equal(state["x"], [1.0, 2.0, 3.0])
    assert meta == {"epoch": 1}


def test_save_of_an_old_step_is_skipped_and_force_refuses_to_overwrite(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        assert ckpt.save(5, {"x": jnp.ones(1)}, {"epoch": 0})
        ckpt.wait()
        assert not ckpt.save(5, {"x": jnp.zeros(1)}, {"epoch": 9})
        assert not ckpt.save(4, {"x": jnp.zeros(1)}, {"epoch": 9})
        with pytest.raises(ValueError, match="already exists"):
            ckpt.save(5, {"x": jnp.zeros(1)}, {"epoch": 9}, force=True)
        state, meta = ckpt.restore(target={"x": jnp.zeros(1)})
    np.testing.assert_array_equal(state["x"], [1.0])
    assert meta == {"epoch": 0} and ckpt.all_steps() == [5]


def test_restore_missing_raises(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        with pytest.raises(FileNotFoundError):
            ckpt.restore(target={"x": jnp.zeros(1)})
        ckpt.save(3, {"x": jnp.zeros(1)}, {})
        with pytest.raises(FileNotFoundError):
            ckpt.restore(4, target={"x": jnp.zeros(1)})


def test_restore_without_target_gives_saved_values(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(0, {"w": jnp.asarray([[1.0, 2.0]]), "n": jnp.int32(4)}, {"epoch": 0})
        state, _ = ckpt.restore()
    np.testing.assert_array_equal(state["w"], [[1.0, 2.0]])
    assert int(state["n"]) == 4


@pytest.mark.parametrize("spec", [PartitionSpec(), PartitionSpec("data")], ids=["replicated", "sharded"])
def test_restore_follows_target_sharding(tmp_path, spec):
    devices = jax.devices()
    mesh = jax.make_mesh((len(devices),), ("data",), devices=devices)
    sharding = NamedSharding(mesh, spec)
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(0, {"w": jnp.arange(8.0)}, {})  # saved from one device
        target = {"w": jax.device_put(jnp.zeros(8), sharding)}
        state, _ = ckpt.restore(target=target)
        abstract = {"w": jax.ShapeDtypeStruct((8,), jnp.float32, sharding=sharding)}
        from_abstract, _ = ckpt.restore(target=abstract)
    for restored in (state, from_abstract):
        assert restored["w"].sharding.is_equivalent_to(sharding, 1)
        np.testing.assert_array_equal(restored["w"], np.arange(8.0))

# ----------------------------------------------------------------------------- is_finite_tree


def test_is_finite_tree():
    good = {"w": jnp.ones((2, 2)), "n": jnp.int32(3), "k": 7, "lr": 0.1, "none": None, "np": np.zeros(3)}
    assert is_finite_tree(good)
    assert is_finite_tree({})
    assert is_finite_tree(_train_state(jit_step=False))
    assert not is_finite_tree({**good, "bad": jnp.asarray([1.0, jnp.nan])})
    assert not is_finite_tree({**good, "bad": np.asarray([np.inf])})
    assert not is_finite_tree([good, {"deep": {"x": -jnp.inf * jnp.ones(2)}}])
    assert not is_finite_tree({"x": float("nan")})
    assert not is_finite_tree({"x": jnp.asarray(jnp.inf, jnp.bfloat16)})
    assert not is_finite_tree({"x": np.float64(np.nan)})
    assert isinstance(is_finite_tree(good), bool)


def test_the_best_checkpoint_is_kept_beside_the_latest_across_reopening(tmp_path):
    """max_to_keep=2 with a best metric: the best of the checkpoints saved with metrics survives newer
    saves (also by a reopened Checkpointer, as a resumed run does), the others go as before."""
    tree = {"w": np.ones(2, np.float32)}
    with Checkpointer(tmp_path, max_to_keep=2, best_metric="acc") as ckpt:
        assert ckpt.best_step() is None
        ckpt.save(1, tree, {})
        ckpt.save(2, tree, {}, metrics={"acc": 0.9})
        ckpt.save(3, tree, {})
        ckpt.save(4, tree, {}, metrics={"acc": 0.5})
        ckpt.wait()
        assert ckpt.all_steps() == [2, 3, 4] and ckpt.best_step() == 2
    with Checkpointer(tmp_path, max_to_keep=2, best_metric="acc") as ckpt:
        ckpt.save(5, tree, {})
        ckpt.save(6, tree, {})
        ckpt.wait()
        assert ckpt.all_steps() == [2, 5, 6] and ckpt.best_step() == 2
    with Checkpointer(tmp_path / "min", max_to_keep=1, best_metric="mse", best_mode="min") as ckpt:
        ckpt.save(1, tree, {}, metrics={"mse": 0.1})
        ckpt.save(2, tree, {}, metrics={"mse": 0.3})
        ckpt.wait()
        assert ckpt.all_steps() == [1, 2] and ckpt.best_step() == 1


@pytest.mark.parametrize("mode, figures", [
    ("max", [0.5, 0.9, 0.7, 0.9, 0.8]),  # a tie of the best: the later one
    ("max", [0.9, 0.9]),
    ("max", [float("nan"), 0.3, float("nan"), 0.3]),  # NaN never wins
    ("min", [0.3, 0.1, 0.2, 0.1]),
    ("min", [0.1, float("nan")]),
], ids=["max-tie", "max-two-equal", "max-nan", "min-tie", "min-nan"])
def test_the_best_checkpoint_follows_the_one_best_evaluation_rule(tmp_path, mode, figures):
    """The kept best checkpoint is the one best_evaluation.best_index picks (ties: the later
    evaluation; NaN never wins), kept after newer saves and read back by a reopened Checkpointer."""
    tree = {"w": np.ones(2, np.float32)}
    expected = best_evaluation.best_index(figures, higher_is_better=mode == "max") + 1
    with Checkpointer(tmp_path, max_to_keep=1, best_metric="m", best_mode=mode) as ckpt:
        for step, figure in enumerate(figures, start=1):
            ckpt.save(step, tree, {}, metrics={"m": figure})
        ckpt.save(len(figures) + 1, tree, {})  # a newer one without metrics
        ckpt.wait()
        assert ckpt.best_step() == expected
        assert ckpt.all_steps() == sorted({expected, len(figures) + 1})
    with Checkpointer(tmp_path, max_to_keep=1, best_metric="m", best_mode=mode) as ckpt:
        assert ckpt.best_step() == expected


def test_only_nan_figures_give_no_best_checkpoint(tmp_path):
    with Checkpointer(tmp_path, max_to_keep=2, best_metric="m") as ckpt:
        ckpt.save(1, {"w": np.ones(2, np.float32)}, {}, metrics={"m": float("nan")})
        ckpt.wait()
        assert ckpt.best_step() is None and ckpt.all_steps() == [1]
