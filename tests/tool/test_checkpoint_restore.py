"""Restoring from damaged checkpoints: fall back to the newest readable one, say so, delete nothing.

The save side is tested in ``tests/tool/test_checkpointing.py``.
"""

import os
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from snnjax.tool import checkpointing


# A restore that fails on a damaged array file leaves orbax's other pending tensorstore reads to finish
# after orbax closed their asyncio loop; their callbacks then hit the closed loop ("Event loop is
# closed", reported by pytest as an unraisable exception from a background thread). Harmless: the
# fallback has already moved on (not seen outside pytest: a script doing the same restores prints nothing).
pytestmark = pytest.mark.filterwarnings("ignore:Exception ignored in. None:pytest.PytestUnraisableExceptionWarning")


def _state(step: int) -> dict:
    return {"params": {"w": jnp.arange(12.0).reshape(3, 4) * step}, "step": jnp.int32(step)}


def _write(directory: Path, steps=(1, 2, 3)) -> None:
    with checkpointing.Checkpointer(directory, max_to_keep=None) as ckpt:
        for step in steps:
            ckpt.save(step, _state(step), {"epoch": step})


def _truncate_array_files(step_dir: Path) -> int:
    """Cuts every array data file of a checkpoint to 10 bytes, as a disk-full or killed copy would."""
    files = [p for p in (step_dir / "state").rglob("*") if p.is_file() and p.parent.name == "d"]
    for p in files:
        with open(p, "r+b") as f:
            f.truncate(10)
    return len(files)


def _empty_metadata(step_dir: Path) -> int:
    (step_dir / "state" / "_METADATA").write_bytes(b"")
    return 1


DAMAGE = {"truncated_array_file": _truncate_array_files, "empty_METADATA": _empty_metadata}


@pytest.mark.parametrize("target", [None, "like_state"])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_unreadable_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys, damage, target):
    _write(tmp_path)
    assert DAMAGE[damage](tmp_path / "3") >= 1
    ckpt = checkpointing.Checkpointer(tmp_path, max_to_keep=None)
    state, meta = ckpt.restore(target=None if target is None else _state(0))
    ckpt.close()
    assert meta == {"epoch": 2}
    np.testing.assert_array_equal(np.asarray(state["params"]["w"]), np.arange(12.0).reshape(3, 4) * 2)
    err = capsys.readouterr().err
    assert f"checkpoint {tmp_path / '3'} is unreadable (" in err
    assert "left in place" in err
    assert f"restoring the newest readable checkpoint, {tmp_path / '2'}" in err
    assert (tmp_path / "3" / "state").is_dir()  # never deleted
    assert sorted(os.listdir(tmp_path)) == ["1", "2", "3"]


def test_two_unreadable_checkpoints_are_both_named_and_the_oldest_is_used(tmp_path, capsys):
    _write(tmp_path)
    _truncate_array_files(tmp_path / "3")
    _empty_metadata(tmp_path / "2")
    with checkpointing.Checkpointer(tmp_path) as ckpt:
        _, meta = ckpt.restore()
    assert meta == {"epoch": 1}
    err = capsys.readouterr().err
    assert f"checkpoint {tmp_path / '3'} is unreadable" in err and f"checkpoint {tmp_path / '2'} is unreadable" in err
    assert f"restoring the newest readable checkpoint, {tmp_path / '1'}" in err


def test_set_aside_renames_the_unreadable_checkpoint_and_the_step_can_be_saved_again(tmp_path, capsys):
    _write(tmp_path)
    _truncate_array_files(tmp_path / "3")
    with checkpointing.Checkpointer(tmp_path, max_to_keep=2) as ckpt:
        _, meta = ckpt.restore(target=_state(0), set_aside_unreadable=True)
        assert meta == {"epoch": 2}
        assert ckpt.latest_step() == 2
        assert ckpt.save(3, _state(30), {"epoch": 30})  # the training loop saves step 3 anew
        ckpt.wait()
    assert f"moved to {tmp_path / '3.unreadable'}" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["2", "3", "3.unreadable"]  # keep-2 never touches the set-aside
    with checkpointing.Checkpointer(tmp_path) as ckpt:
        state, meta = ckpt.restore()
    assert meta == {"epoch": 30} and int(state["step"]) == 30


def test_set_aside_never_overwrites_an_earlier_set_aside(tmp_path):
    _write(tmp_path, steps=(1, 2))
    (tmp_path / "2.unreadable").mkdir()
    _empty_metadata(tmp_path / "2")
    with checkpointing.Checkpointer(tmp_path) as ckpt:
        ckpt.restore(set_aside_unreadable=True)
    assert sorted(os.listdir(tmp_path)) == ["1", "2.unreadable", "2.unreadable.2"]


def test_no_readable_checkpoint_is_one_error_naming_each(tmp_path):
    _write(tmp_path, steps=(1, 2))
    _truncate_array_files(tmp_path / "1")
    _empty_metadata(tmp_path / "2")
    with checkpointing.Checkpointer(tmp_path) as ckpt:
        with pytest.raises(checkpointing.CheckpointError) as info:
            ckpt.restore()
    message = str(info.value)
    assert message.startswith(f"no readable checkpoint in {tmp_path} (")
    assert f"{tmp_path / '2'}: JSONDecodeError" in message and f"{tmp_path / '1'}: ValueError" in message
    assert "nothing was deleted" in message and "\n" not in message
    assert sorted(os.listdir(tmp_path)) == ["1", "2"]


def test_an_explicit_unreadable_step_is_an_error_not_a_fallback(tmp_path):
    _write(tmp_path, steps=(1, 2))
    _empty_metadata(tmp_path / "2")
    with checkpointing.Checkpointer(tmp_path) as ckpt:
        with pytest.raises(checkpointing.CheckpointError, match=r"checkpoint .*2 is unreadable \(JSONDecodeError"):
            ckpt.restore(step=2)
        _, meta = ckpt.restore(step=1)
    assert meta == {"epoch": 1}


@pytest.mark.slow
def test_training_resumes_from_the_newest_readable_checkpoint_and_sets_the_bad_one_aside(tmp_path, capsys):
    from configs import smoke
    from snnjax.tool import train_lib

    def config(steps):
        c = smoke.get_config()
        with c.unlocked():
            c.model.spec = "4c3-p2-8c3-p2-20-10"
            c.train.num_steps = steps
            c.train.checkpoint_every_steps = 2
            c.train.max_checkpoints = 5
        return c

    train_lib.train_and_evaluate(config(4), tmp_path, progress=False, allow_config_change=True)
    _truncate_array_files(tmp_path / "checkpoints" / "4")
    capsys.readouterr()
    train_lib.train_and_evaluate(config(6), tmp_path, progress=False, allow_config_change=True)
    err = capsys.readouterr().err
    ckpts = tmp_path / "checkpoints"
    assert f"checkpoint {ckpts / '4'} is unreadable (" in err
    assert f"moved to {ckpts / '4.unreadable'}" in err
    assert f"restoring the newest readable checkpoint, {ckpts / '2'}" in err
    assert sorted(os.listdir(ckpts)) == ["2", "4", "4.unreadable", "6"]  # step 4 saved anew, then 6
    with checkpointing.Checkpointer(ckpts, read_only=True) as ckpt:
        _, meta = ckpt.restore()
    assert meta["step"] == 6
