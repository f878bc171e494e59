"""``train.py`` on bad input: one clear line naming the file and what to do, a non-zero exit code,
and nothing lost. Each case runs the real command in a subprocess (on 1 CPU device)."""

import errno
import gzip
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cpu_env import cpu_env

from snnjax.tool import checkpointing
from snnjax.data import idx

REPO = Path(__file__).resolve().parents[2]
SHORT = ["--config.train.num_steps=2", "--config.train.eval_batch_size=1000"]


def _train(args: list[str], tmp_path: Path, *, wrapper: str | None = None, timeout: int = 300):
    env = cpu_env(1)
    if wrapper is None:
        command = [sys.executable, "train.py", *args]
    else:
        script = tmp_path / "wrapper.py"
        script.write_text(wrapper)
        command = [sys.executable, str(script), *args]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    # tqdm redraws with \r; the bars are not messages
    lines = [line for line in done.stderr.replace("\r", "\n").splitlines()
             if line.strip() and "it/s]" not in line and "s/it]" not in line and not line.startswith(("snnjax: ", "epoch "))]
    return done.returncode, lines


def _idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def mnist_dir(tmp_path):
    """The bundled MNIST subset written as the four gzip'd IDX files of the original MNIST."""
    data = np.load(REPO / "snnjax" / "assets" / "mnist_small.npz")
    folder = tmp_path / "mnist"
    folder.mkdir()
    for split, (images, labels) in idx.MNIST_FILES.items():
        key = "train" if split == "train" else "test"
        (folder / f"{images}.gz").write_bytes(gzip.compress(_idx_bytes(data[f"x_{key}"], idx.IMAGES_MAGIC)))
        (folder / f"{labels}.gz").write_bytes(gzip.compress(_idx_bytes(data[f"y_{key}"], idx.LABELS_MAGIC)))
    return folder


def _mnist_args(folder: Path, workdir: Path) -> list[str]:
    return ["--config", "configs/smoke.py", "--workdir", str(workdir), "--config.data.name=mnist",
            f"--config.data.data_dir={folder}", *SHORT]


@pytest.mark.slow
def test_truncated_gz_names_the_file(mnist_dir, tmp_path):
    bad = mnist_dir / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:5000])
    rc, lines = _train(_mnist_args(mnist_dir, tmp_path / "run"), tmp_path)
    assert rc == 1
    assert lines == [f"error (IDXError): {bad}: truncated or damaged gzip file (Compressed file ended before the "
                     f"end-of-stream marker was reached). {idx.REPLACE_HINT}"]


@pytest.mark.slow
def test_bad_idx_header_names_the_file(mnist_dir, tmp_path):
    bad = mnist_dir / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + gzip.decompress(bad.read_bytes())[4:]))
    rc, lines = _train(_mnist_args(mnist_dir, tmp_path / "run"), tmp_path)
    assert rc == 1
    assert lines == [f"error (IDXError): {bad}: magic number 0x00000803, expected 0x00000801. {idx.REPLACE_HINT}"]


def test_missing_config_file(tmp_path):
    rc, lines = _train(["--config", "configs/no_such.py", "--workdir", str(tmp_path / "run"), *SHORT], tmp_path)
    assert rc == 1
    assert lines == [f"error: config file configs/no_such.py not found (looked in {REPO}); give an existing file's "
                     "path or a packaged config's name, e.g. --config smoke (an unknown name lists them)"]
    assert not (tmp_path / "run").exists()


def test_unknown_config_name_lists_the_packaged_ones(tmp_path):
    rc, lines = _train(["--config", "smok", "--workdir", str(tmp_path / "run"), *SHORT], tmp_path)
    assert rc == 1 and len(lines) == 1
    assert lines[0].startswith("error: no packaged config named 'smok'; did you mean --config smoke? packaged "
                               "configs: bpsa_cifar10, ")
    assert not (tmp_path / "run").exists()


def test_argument_error_names_the_config_as_given(tmp_path):
    """A packaged name is resolved to its file, but the message quotes what the user typed."""
    rc, lines = _train(["--config=smoke:foo", "--workdir", str(tmp_path / "run")], tmp_path)
    assert rc == 1
    assert lines == ["error: --config smoke:foo: ValueError: config 'smoke' takes no argument, got 'foo': "
                     "drop ':foo' (--config smoke) and change keys with --config.<section>.<key>=<value>"]


def test_argument_to_a_config_without_variants(tmp_path):
    rc, lines = _train(["--config", "configs/smoke.py:foo", "--workdir", str(tmp_path / "run")], tmp_path)
    assert rc == 1
    assert lines == ["error: --config configs/smoke.py:foo: ValueError: config 'smoke' takes no argument, got 'foo': "
                     "drop ':foo' (--config smoke) and change keys with --config.<section>.<key>=<value>"]


@pytest.mark.slow
@pytest.mark.parametrize("inside", [False, True])
def test_workdir_that_is_a_file(tmp_path, inside):
    file = tmp_path / "notes.txt"
    file.write_text("keep me\n")
    workdir = file / "run" if inside else file
    rc, lines = _train(["--config", "configs/smoke.py", "--workdir", str(workdir), *SHORT], tmp_path)
    assert rc == 1
    what = f"is inside {file}, which is a file" if inside else "is a file"
    assert lines == [f"error: --workdir {workdir} {what}, not a directory; give a new directory (or an existing "
                     "run directory to resume it)"]
    assert file.read_text() == "keep me\n"


# orbax's JSON writes fail with ENOSPC from the second checkpoint on, as on a full disk
ENOSPC_WRAPPER = textwrap.dedent(f"""
    import errno, os, runpy, sys
    from orbax.checkpoint._src.handlers import json_checkpoint_handler as handler
    original, calls = handler.JsonCheckpointHandler._save_fn, []
    async def full_disk(self, x, directory):
        calls.append(directory)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(directory))
        return await original(self, x, directory)
    handler.JsonCheckpointHandler._save_fn = full_disk
    sys.argv = ["train.py"] + sys.argv[1:]
    sys.path.insert(0, os.getcwd())  # as when train.py is run: the repository root first
    runpy.run_path("train.py", run_name="__main__")
""")


CTRL_C_WHILE_LOADING_WRAPPER = textwrap.dedent("""
    import os, runpy, sys
    from snnjax.io import data
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # what Ctrl-C raises while the data loads
    data.load = interrupted
    sys.argv = ["train.py"] + sys.argv[1:]
    sys.path.insert(0, os.getcwd())
    runpy.run_path("train.py", run_name="__main__")
""")


def test_ctrl_c_before_training_is_one_line(tmp_path):
    from snnjax.tool.train import INTERRUPTED_BEFORE_TRAINING

    workdir = tmp_path / "run"
    rc, lines = _train(["--config", "configs/smoke.py", "--workdir", str(workdir), *SHORT], tmp_path,
                       wrapper=CTRL_C_WHILE_LOADING_WRAPPER)
    assert rc == 1
    assert lines == [INTERRUPTED_BEFORE_TRAINING]
    assert not (workdir / "checkpoints").exists()


@pytest.mark.slow
def test_full_disk_is_one_line_and_keeps_the_last_checkpoint(tmp_path):
    workdir = tmp_path / "run"
    args = ["--config", "configs/smoke.py", "--workdir", str(workdir), "--config.train.num_steps=4",
            "--config.train.checkpoint_every_steps=2", "--config.train.eval_batch_size=1000"]
    rc, lines = _train(args, tmp_path, wrapper=ENOSPC_WRAPPER)
    assert rc == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: no space left on the device of {workdir} (while writing {workdir / 'checkpoints'}")
    assert lines[0].endswith(f"the last complete checkpoint, {workdir / 'checkpoints' / '2'}, is kept: free some "
                             "space and rerun the same command to resume from it")
    with checkpointing.Checkpointer(workdir / "checkpoints", read_only=True) as ckpt:
        state, meta = ckpt.restore()
    assert meta["step"] == 2 and int(state["step"]) == 2
