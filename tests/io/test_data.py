"""Tests of snnjax.data that need no optional package: IDX files, search and errors, the bundled
MNIST subset, generated tasks, validation splits, augmentation and the registry."""

from __future__ import annotations

import gzip
import math
import os
import struct
from pathlib import Path

import ml_collections
import numpy as np
import pytest

from snnjax import data
from snnjax.data import augment, idx, neuromorphic, search, tfds_source, vision
from snnjax.data.dataset import check_indices

SHARED_DATA = Path(os.environ.get(
    "SNNJAX_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


@pytest.fixture(autouse=True)
def _isolated_search(monkeypatch):
    """No test sees the developer's $SNNJAX_DATA_DIR, nor tfds's data."""
    monkeypatch.delenv(search.ENV_VAR, raising=False)
    monkeypatch.setattr(tfds_source, "is_available", lambda: False)


# --- IDX ---------------------------------------------------------------------------------------

def idx_bytes(array: np.ndarray, code: int, magic_dims: int | None = None) -> bytes:
    """An IDX file written by hand: 00 00 code ndim, big-endian uint32 dims, big-endian data."""
    ndim = array.ndim if magic_dims is None else magic_dims
    header = bytes([0, 0, code, ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_fake_mnist(directory: Path, num_train=3, num_test=2, offset=0, gz=True) -> dict:
    """Four MNIST-style IDX files of 28x28 uint8 images with known pixels; returns the arrays."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(offset)
    arrays = {}
    for prefix, n in (("train", num_train), ("t10k", num_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) + offset).astype(np.uint8) % 10
        for kind, array, code in (("images-idx3", images, 0x08), ("labels-idx1", labels, 0x08)):
            raw = idx_bytes(array, code)
            name = f"{prefix}-{kind}-ubyte"
            if gz:
                (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (directory / name).write_bytes(raw)
        arrays[prefix] = (images, labels)
    return arrays


def test_parse_idx_uint8_from_literal_bytes():
    header = b"\x00\x00\x08\x02" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x03"  # uint8, [2, 3]
    raw = header + bytes([0, 1, 2, 250, 4, 5])
    array = idx.parse_idx(raw)
    assert array.dtype == np.uint8
    np.testing.assert_array_equal(array, [[0, 1, 2], [250, 4, 5]])


def test_parse_idx_int32_is_big_endian():
    raw = b"\x00\x00\x0c\x01" + b"\x00\x00\x00\x02" + b"\x00\x00\x01\x00" + b"\xff\xff\xff\xff"
    array = idx.parse_idx(raw)
    assert array.dtype == np.int32 and array.dtype.isnative
    np.testing.assert_array_equal(array, [256, -1])


def test_read_idx_plain_and_gzip_agree(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array, 0x08))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array, 0x08)))
    np.testing.assert_array_equal(idx.read_idx(tmp_path / "a"), array)
    np.testing.assert_array_equal(idx.read_idx(tmp_path / "a.gz"), array)


@pytest.mark.parametrize("raw, message", [
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x00", "not an IDX file"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown IDX dtype"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x00", "data bytes"),  # header says 3, holds 1
    (b"\x00\x00\x08\x02\x00\x00\x00\x03", "truncated header"),
])
def test_parse_idx_rejects_malformed_files(raw, message):
    with pytest.raises(idx.IDXError, match=message):
        idx.parse_idx(raw)


def test_mnist_reader_checks_magic_numbers_and_shapes(tmp_path):
    labels = np.zeros(2, np.uint8)
    (tmp_path / "labels").write_bytes(idx_bytes(labels, 0x08))
    (tmp_path / "images").write_bytes(idx_bytes(np.zeros((2, 28, 28), np.uint8), 0x08))
    (tmp_path / "small").write_bytes(idx_bytes(np.zeros((2, 8, 8), np.uint8), 0x08))
    (tmp_path / "three").write_bytes(idx_bytes(np.zeros((3, 28, 28), np.uint8), 0x08))
    with pytest.raises(idx.IDXError, match="expected 0x00000803"):  # labels given as images
        idx.read_image_label_pair(tmp_path / "labels", tmp_path / "labels")
    with pytest.raises(idx.IDXError, match=r"expected \(28, 28\)"):
        idx.read_image_label_pair(tmp_path / "small", tmp_path / "labels")
    with pytest.raises(idx.IDXError, match="3 images but"):
        idx.read_image_label_pair(tmp_path / "three", tmp_path / "labels")
    images, read_labels = idx.read_image_label_pair(tmp_path / "images", tmp_path / "labels")
    assert images.shape == (2, 28, 28) and read_labels.shape == (2,)


# --- MNIST / Fashion-MNIST search --------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_mnist_loads_fake_idx_from_data_dir(tmp_path, gz):
    arrays = write_fake_mnist(tmp_path, gz=gz)
    ds = data.load({"name": "mnist", "data_dir": str(tmp_path)})
    assert (ds.name, ds.task, ds.num_classes, ds.input_shape) == ("mnist", "classification", 10,
                                                                 (28, 28, 1))
    assert (ds.train.num_examples, ds.test.num_examples, ds.validation) == (3, 2, None)
    x, y = ds.train.get(np.arange(3))
    assert x.dtype == np.float32 and y.dtype == np.int32 and x.shape == (3, 28, 28, 1)
    np.testing.assert_allclose(x[..., 0], arrays["train"][0] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, arrays["train"][1])
    np.testing.assert_array_equal(ds.test.get(np.arange(2))[1], arrays["t10k"][1])


def test_search_order_data_dir_then_subfolder_then_env(tmp_path, monkeypatch):
    env_dir, data_dir = tmp_path / "env", tmp_path / "cfg"
    write_fake_mnist(env_dir / "fashion_mnist", offset=7)
    monkeypatch.setenv(search.ENV_VAR, str(env_dir))
    # Only the environment variable's <name>/ subfolder has files.
    ds = data.load({"name": "fashion_mnist", "data_dir": str(data_dir)})
    assert ds.train.get(np.array([0]))[1][0] == 7
    # data_dir/<name>/ wins over the environment variable, and data_dir itself over both.
    write_fake_mnist(data_dir / "fashion_mnist", offset=3)
    ds = data.load({"name": "fashion_mnist", "data_dir": str(data_dir)})
    assert ds.train.get(np.array([0]))[1][0] == 3
    write_fake_mnist(data_dir, offset=1)
    ds = data.load({"name": "fashion_mnist", "data_dir": str(data_dir)})
    assert ds.train.get(np.array([0]))[1][0] == 1
    assert search.candidate_dirs("fashion_mnist", data_dir) == [
        data_dir, data_dir / "fashion_mnist", env_dir, env_dir / "fashion_mnist",
        Path("/usr/share/datasets/fashion-mnist")]


def test_missing_mnist_error_lists_every_place_searched(tmp_path, monkeypatch):
    monkeypatch.setenv(search.ENV_VAR, str(tmp_path / "env"))
    (tmp_path / "cfg").mkdir()
    with pytest.raises(data.DataNotFoundError) as info:
        data.load({"name": "mnist", "data_dir": str(tmp_path / "cfg")})
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    for place in (tmp_path / "cfg", tmp_path / "cfg" / "mnist", tmp_path / "env",
                  tmp_path / "env" / "mnist"):
        assert f"  - {place} (" in message
    assert "no IDX files" in message and "no such folder" in message
    assert "tensorflow_datasets" in message and "not installed" in message
    for hint in ("--config.data.data_dir", search.ENV_VAR, "mnist_small", "pip install"):
        assert hint in message


def test_missing_fashion_mnist_error_names_the_debian_package(monkeypatch, tmp_path):
    assert search.SYSTEM_DIRS["fashion_mnist"] == ("/usr/share/datasets/fashion-mnist",)
    system_dir = tmp_path / "usr-share-datasets-fashion-mnist"
    monkeypatch.setitem(search.SYSTEM_DIRS, "fashion_mnist", (str(system_dir),))
    with pytest.raises(data.DataNotFoundError) as info:
        data.load({"name": "fashion_mnist"})
    message = str(info.value)
    assert str(system_dir) in message and "apt-get install dataset-fashion-mnist" in message
    assert "--config.data.data_dir: not set" in message and f"${search.ENV_VAR}: not set" in message


def test_system_dir_is_searched(monkeypatch, tmp_path):
    write_fake_mnist(tmp_path / "debian", offset=5)
    monkeypatch.setitem(search.SYSTEM_DIRS, "fashion_mnist", (str(tmp_path / "debian"),))
    ds = data.load({"name": "fashion_mnist"})
    assert ds.train.get(np.array([0]))[1][0] == 5


def test_missing_cifar10_and_event_sets_raise_clear_errors(tmp_path):
    with pytest.raises(data.DataNotFoundError, match="tensorflow_datasets"):
        data.load({"name": "cifar10", "data_dir": str(tmp_path)})
    for name in neuromorphic.EVENT_SETS:
        with pytest.raises(data.DataNotFoundError) as info:
            data.load({"name": name, "data_dir": str(tmp_path)})
        message = str(info.value)
        assert "tonic: not installed" in message or str(tmp_path) in message
        assert neuromorphic.EVENT_SETS[name].tonic_class in message


@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="shared MNIST folder absent")
def test_real_mnist_from_shared_data():
    ds = data.load({"name": "mnist", "data_dir": str(SHARED_DATA)})
    assert (ds.train.num_examples, ds.test.num_examples) == (60_000, 10_000)
    x, y = ds.train.get(np.arange(5))
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(y, [5, 0, 4, 1, 9])
    # The bundled subset is exactly the first 5,000 / 1,000 images.
    small = data.load({"name": "mnist_small"})
    first = np.arange(1000)
    for split in ("train", "test"):
        real_x, real_y = getattr(ds, split).get(first)
        small_x, small_y = getattr(small, split).get(first)
        np.testing.assert_array_equal(real_x, small_x)
        np.testing.assert_array_equal(real_y, small_y)


@pytest.mark.skipif(not (SHARED_DATA / "fashion_mnist").is_dir(),
                    reason="shared Fashion-MNIST folder absent")
def test_real_fashion_mnist_from_shared_data(monkeypatch):
    monkeypatch.setenv(search.ENV_VAR, str(SHARED_DATA))  # found as $SNNJAX_DATA_DIR/<name>
    ds = data.load({"name": "fashion_mnist"})
    assert (ds.train.num_examples, ds.test.num_examples) == (60_000, 10_000)
    np.testing.assert_array_equal(ds.train.get(np.arange(4))[1], [9, 0, 0, 3])


# --- mnist_small -------------------------------------------------------------------------------

def test_mnist_small_asset():
    path = vision.MNIST_SMALL_PATH
    assert path.is_file() and path.stat().st_size < 2_000_000
    with np.load(path) as f:
        shapes = {key: (f[key].shape, f[key].dtype) for key in f.files}
        y_train, y_test = f["y_train"], f["y_test"]
    assert shapes == {
        "x_train": ((5000, 28, 28), np.uint8), "y_train": ((5000,), np.uint8),
        "x_test": ((1000, 28, 28), np.uint8), "y_test": ((1000,), np.uint8),
    }
    np.testing.assert_array_equal(y_train[:5], [5, 0, 4, 1, 9])  # MNIST's first labels
    assert np.bincount(y_train, minlength=10).min() >= 300  # every class, roughly balanced
    assert np.bincount(y_test, minlength=10).min() >= 50


def test_mnist_small_is_the_default_dataset():
    assert data.default_data_config().name == "mnist_small"
    ds = data.load(data.default_data_config())
    assert (ds.name, ds.input_shape, ds.num_classes) == ("mnist_small", (28, 28, 1), 10)
    x, _ = ds.test.get(np.arange(10))
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0


# --- generated tasks ---------------------------------------------------------------------------

def small_cfg(name, **overrides):
    cfg = {"name": name, "seq_len": 12, "num_train": 40, "num_test": 10, "seed": 1}
    cfg.update(overrides)
    return cfg


def test_adding_problem_targets_are_the_marked_sums():
    ds = data.load(small_cfg("adding"))
    assert (ds.task, ds.num_classes, ds.input_shape) == ("regression", 1, (12, 2))
    x, y = ds.train.get(np.arange(40))
    assert x.shape == (40, 12, 2) and x.dtype == np.float32 and y.shape == (40,)
    assert y.dtype == np.float32
    values, marks = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(np.unique(marks)) == {0.0, 1.0} and (marks.sum(1) == 2).all()
    np.testing.assert_allclose(y, (values * marks).sum(1), rtol=1e-6)


def test_generated_examples_are_reproducible_and_order_independent():
    for name in ("adding", "copy_memory", "random"):
        ds = data.load(small_cfg(name, shape=(3, 2)))
        x, y = ds.train.get(np.array([5, 2, 9]))
        x2, y2 = ds.train.get(np.array([9, 5]))
        np.testing.assert_array_equal(x[[2, 0]], x2)
        np.testing.assert_array_equal(y[[2, 0]], y2)
        again = data.load(small_cfg(name, shape=(3, 2))).train.get(np.array([5, 2, 9]))
        np.testing.assert_array_equal(again[0], x)
        test_x, _ = ds.test.get(np.array([5, 2, 9]))
        assert not np.array_equal(test_x, x), f"{name}: train and test share a stream"
        other_x, _ = data.load(small_cfg(name, shape=(3, 2), seed=2)).train.get(np.array([5, 2, 9]))
        assert not np.array_equal(other_x, x), f"{name}: seed ignored"


def test_copy_memory_layout():
    seq_len = 5
    ds = data.load(small_cfg("copy_memory", seq_len=seq_len))
    length = seq_len + 20
    assert (ds.task, ds.num_classes, ds.input_shape) == ("sequence_classification", 10,
                                                         (length, 10))
    x, y = ds.train.get(np.arange(40))
    assert x.shape == (40, length, 10) and x.dtype == np.float32
    assert y.shape == (40, length) and y.dtype == np.int32
    np.testing.assert_array_equal(x.sum(-1), 1.0)  # one-hot
    assert set(np.unique(x)) == {0.0, 1.0}
    symbols = x.argmax(-1)
    digits = symbols[:, :10]
    assert digits.min() >= 1 and digits.max() <= 8
    np.testing.assert_array_equal(symbols[:, 10:10 + seq_len], 0)
    np.testing.assert_array_equal(symbols[:, 10 + seq_len:], 9)
    np.testing.assert_array_equal(y[:, :10 + seq_len], 0)
    np.testing.assert_array_equal(y[:, 10 + seq_len:], digits)
    assert set(np.unique(digits)) == set(range(1, 9))


def test_copy_memory_baseline_loss_matches_its_strategy():
    seq_len = 30
    _, y = data.load(small_cfg("copy_memory", seq_len=seq_len, num_train=200)).train.get(
        np.arange(200))
    # Baseline strategy: p(0) = 1 before the recall phase, uniform over 1..8 during it.
    probs = np.zeros((seq_len + 20, 10))
    probs[: seq_len + 10, 0] = 1.0
    probs[seq_len + 10:, 1:9] = 1.0 / 8
    with np.errstate(divide="ignore"):
        log_probs = np.log(probs)
    picked = np.take_along_axis(np.broadcast_to(log_probs, (*y.shape, 10)), y[..., None], -1)
    cross_entropy = -picked.mean()
    assert np.isfinite(cross_entropy)
    assert cross_entropy == pytest.approx(data.copy_memory_baseline_loss(seq_len), rel=1e-9)
    assert data.copy_memory_baseline_loss(seq_len) == pytest.approx(10 * math.log(8) / 50)


def test_adding_baseline_mse_matches_monte_carlo():
    n = 4000
    _, y = data.load(small_cfg("adding", seq_len=8, num_train=n)).train.get(np.arange(n))
    mse = np.mean((y - 1.0) ** 2)  # both marked values guessed at their mean 0.5
    assert data.adding_baseline_mse() == pytest.approx(1 / 6, abs=5e-4)
    assert mse == pytest.approx(data.adding_baseline_mse(), abs=0.012)  # ~3 standard errors


def test_random_dataset_shapes_and_labels():
    ds = data.load(small_cfg("random", shape=(32, 32, 3), num_classes=4))
    assert ds.input_shape == (32, 32, 3) and ds.num_classes == 4
    x, y = ds.train.get(np.arange(40))
    assert x.shape == (40, 32, 32, 3) and x.dtype == np.float32 and y.dtype == np.int32
    assert 0 <= x.min() and x.max() < 1 and set(np.unique(y)) == {0, 1, 2, 3}


# --- splits and indices ------------------------------------------------------------------------

def test_validation_split_is_disjoint_tail_of_train():
    full = data.load({"name": "mnist_small"})
    ds = data.load({"name": "mnist_small", "val_fraction": 0.2})
    assert (ds.train.num_examples, ds.validation.num_examples) == (4000, 1000)
    assert ds.test.num_examples == 1000  # untouched
    train_ids, val_ids = ds.train.index_map, ds.validation.index_map
    assert not set(train_ids) & set(val_ids)
    np.testing.assert_array_equal(np.sort(np.concatenate([train_ids, val_ids])), np.arange(5000))
    val_x, val_y = ds.validation.get(np.arange(1000))
    full_x, full_y = full.train.get(np.arange(4000, 5000))
    np.testing.assert_array_equal(val_x, full_x)
    np.testing.assert_array_equal(val_y, full_y)
    with pytest.raises(IndexError):
        ds.train.get(np.array([4000]))


def test_validation_split_of_a_generated_task():
    ds = data.load(small_cfg("adding", val_fraction=0.25))
    full = data.load(small_cfg("adding"))
    assert (ds.train.num_examples, ds.validation.num_examples) == (30, 10)
    np.testing.assert_array_equal(ds.validation.get(np.arange(10))[0],
                                  full.train.get(np.arange(30, 40))[0])


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 0.001])
def test_bad_validation_fractions(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        data.load(small_cfg("adding", val_fraction=fraction))


def test_indices_are_checked():
    assert check_indices(np.array([], np.int64), 3).shape == (0,)
    with pytest.raises(IndexError):
        check_indices(np.array([-1]), 3)
    with pytest.raises(IndexError):
        check_indices(np.array([3]), 3)
    with pytest.raises(ValueError):
        check_indices(np.array([[0]]), 3)


def test_cifar10_dvsper_class_split_is_per_class_and_sorted():
    targets = np.array([1, 0, 1, 0] * 10)
    paths = [f"f{i:02d}" for i in range(40)][::-1]
    train, test = neuromorphic.per_class_split(targets, paths, 0.9)
    assert len(train) == 36 and len(test) == 4 and not set(train) & set(test)
    for label in (0, 1):
        kept = sorted(paths[i] for i in train if targets[i] == label)
        held = sorted(paths[i] for i in test if targets[i] == label)
        assert len(held) == 2 and max(kept) < min(held)  # the last files of each class


# --- augmentation ------------------------------------------------------------------------------

def test_affine_augmentation_is_deterministic_and_changes_images():
    ds = data.load({"name": "mnist_small", "augment": "affine", "val_fraction": 0.1})
    plain = data.load({"name": "mnist_small"})
    indices = np.array([3, 1, 4, 1, 5])
    x, y = ds.train.get(indices, epoch=2)
    x_again, _ = ds.train.get(indices[::-1], epoch=2)
    np.testing.assert_array_equal(x, x_again[::-1])
    x_next, _ = ds.train.get(indices, epoch=3)
    assert not np.array_equal(x, x_next)
    raw, raw_y = plain.train.get(indices)
    np.testing.assert_array_equal(y, raw_y)
    assert x.shape == raw.shape and x.dtype == np.float32
    assert all(not np.array_equal(a, b) for a, b in zip(x, raw, strict=True))
    assert set(np.unique(x)) <= set(np.unique(raw))  # nearest sampling invents no values
    # Validation and test are never augmented.
    np.testing.assert_array_equal(ds.validation.get(np.arange(3))[0],
                                  plain.train.get(np.arange(4500, 4503))[0])
    np.testing.assert_array_equal(ds.test.get(np.arange(3))[0], plain.test.get(np.arange(3))[0])


def test_warp_affine_identity_rotation_and_shift():
    rng = np.random.default_rng(0)
    images = rng.random((2, 28, 28, 1)).astype(np.float32)
    ones, zeros = np.ones(2), np.zeros(2)
    np.testing.assert_array_equal(augment.warp_affine(images, zeros, zeros, zeros, ones), images)
    rotated = augment.warp_affine(images, np.full(2, 90.0), zeros, zeros, ones)
    np.testing.assert_array_equal(rotated, np.rot90(images, k=1, axes=(1, 2)))  # counter-clockwise
    shifted = augment.warp_affine(images, zeros, np.full(2, 3.0), np.full(2, -2.0), ones)
    np.testing.assert_array_equal(shifted[:, :-2, 3:], images[:, 2:, :-3])
    np.testing.assert_array_equal(shifted[:, :, :3], 0)
    np.testing.assert_array_equal(shifted[:, -2:], 0)
    zoomed = augment.warp_affine(images, zeros, zeros, zeros, np.full(2, 2.0))
    # Output pixel p samples the input at c + (p - c) / 2, c = 13.5: 0 -> 6.75 -> 7, 27 -> 20.25.
    np.testing.assert_array_equal(zoomed[:, 0, 0], images[:, 7, 7])
    np.testing.assert_array_equal(zoomed[:, 27, 27], images[:, 20, 20])


def test_sample_affine_ranges_match_the_released_code():
    rng = np.random.default_rng(0)
    params = np.array([augment.sample_affine(rng, 28, 28) for _ in range(2000)])
    angle, tx, ty, scale = params.T
    assert -30 <= angle.min() < -29 and 29 < angle.max() <= 30
    assert set(np.unique(tx)) == set(range(-4, 5)) and set(np.unique(ty)) == set(range(-4, 5))
    assert 0.85 <= scale.min() < 0.86 and 1.10 < scale.max() <= 1.11


def test_augment_options_are_checked():
    with pytest.raises(ValueError, match="augment must be one of"):
        data.load({"name": "mnist_small", "augment": "flip"})
    with pytest.raises(ValueError, match="needs \\[H, W, C\\] images"):
        data.load(small_cfg("adding", augment="affine"))


# --- registry and config -----------------------------------------------------------------------

def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError) as info:
        data.load({"name": "seq_mnist"})
    for name in ("mnist", "fashion_mnist", "mnist_small", "cifar10", "adding", "copy_memory",
                 "random", "nmnist", "dvs_gesture", "cifar10_dvs"):
        assert name in str(info.value)


def test_register_a_new_dataset():
    def load_tiny(cfg):
        split = data.ArraySplit(np.zeros((4, 2), np.float32), np.arange(4, dtype=np.int32))
        return data.Dataset("tiny", split, split, None, 4, "classification", (2,))

    with data.LOADERS.scoped():
        data.register("tiny", load_tiny)
        ds = data.load({"name": "tiny", "val_fraction": 0.5})
        assert "tiny" in data.names() and ds.validation.num_examples == 2
        with pytest.raises(ValueError, match="already registered"):
            data.register("tiny", load_tiny)
    assert "tiny" not in data.names()


def test_default_config_has_every_key_and_locks():
    cfg = data.default_data_config()
    assert set(cfg.keys()) == {"name", "data_dir", "val_fraction", "seq_len", "num_train",
                               "num_test", "seed", "time_bins", "augment", "shape", "num_classes"}
    assert cfg.data_dir is None and cfg.val_fraction == 0.0 and cfg.augment == "none"
    cfg.lock()
    cfg.data_dir = "/somewhere"  # a str placeholder accepts a path when locked
    with pytest.raises(AttributeError):
        cfg.not_a_key = 1
    assert isinstance(cfg, ml_collections.ConfigDict)


def test_dataset_rejects_unknown_task():
    split = data.ArraySplit(np.zeros((1, 1)), np.zeros(1))
    with pytest.raises(ValueError, match="task"):
        data.Dataset("x", split, split, None, 1, "ranking", (1,))
