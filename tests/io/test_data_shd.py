"""SHD through tonic, on tiny .h5 files written in the Heidelberg format tonic reads.

Skipped when tonic or h5py is not installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

tonic = pytest.importorskip("tonic")
h5py = pytest.importorskip("h5py")

from snnjax import data  # noqa: E402
from snnjax.data import neuromorphic, search  # noqa: E402


@pytest.fixture(autouse=True)
def _no_env_data_dir(monkeypatch):
    monkeypatch.delenv(search.ENV_VAR, raising=False)


# (times in s, units, label) per recording
SHD_FILES = {
    "shd_train.h5": [([0.0, 0.004, 0.0049, 0.5, 0.999, 1.2], [0, 699, 699, 3, 3, 5], 7),
                     ([0.25, 0.265], [10, 10], 19)],
    "shd_test.h5": [([0.1], [42], 0)],
}


def write_shd(root: Path, files=SHD_FILES) -> None:
    folder = root / "SHD"
    folder.mkdir(parents=True, exist_ok=True)
    for name, recordings in files.items():
        with h5py.File(folder / name, "w") as f:
            times = f.create_dataset("spikes/times", (len(recordings),), dtype=h5py.vlen_dtype(np.float32))
            units = f.create_dataset("spikes/units", (len(recordings),), dtype=h5py.vlen_dtype(np.uint16))
            for i, (t, u, _) in enumerate(recordings):
                times[i] = np.asarray(t, np.float32)
                units[i] = np.asarray(u, np.uint16)
            f["labels"] = np.asarray([r[2] for r in recordings], np.uint16)
            f["extra/keys"] = np.asarray([b"digit"] * 20)
            f["extra/speaker"] = np.zeros(len(recordings), np.uint16)


def test_shd_h5_fixture_through_tonic(tmp_path):
    write_shd(tmp_path)
    ds = data.load({"name": "shd", "data_dir": str(tmp_path), "time_bins": 100})
    assert (ds.input_shape, ds.num_classes, ds.task) == ((100, 700), 20, "classification")
    assert (ds.train.num_examples, ds.test.num_examples) == (2, 1)
    x, y = ds.train.get(np.array([0, 1]))
    assert x.shape == (2, 100, 700) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [7, 19])
    # 10 ms bins of [0, 1 s): t = 0 -> bin 0; 4 and 4.9 ms -> bin 0 of channel 699; 0.5 s -> bin 50;
    # 0.999 s -> bin 99; 1.2 s lies outside the window and is dropped.
    assert x[0, 0, 0] == 1 and x[0, 0, 699] == 2 and x[0, 50, 3] == 1 and x[0, 99, 3] == 1
    assert x[0].sum() == 5 and x[0, :, 5].sum() == 0
    assert x[1, 25, 10] == 1 and x[1, 26, 10] == 1
    x_test, y_test = ds.test.get(np.array([0]))
    np.testing.assert_array_equal(y_test, [0])
    assert x_test[0, 10, 42] == 1 and x_test.sum() == 1


def test_shd_found_under_env_subfolder_with_validation_split(tmp_path, monkeypatch):
    write_shd(tmp_path / "shd")
    monkeypatch.setenv(search.ENV_VAR, str(tmp_path))
    ds = data.load({"name": "shd", "time_bins": 4, "val_fraction": 0.5})
    assert (ds.train.num_examples, ds.validation.num_examples) == (1, 1)
    np.testing.assert_array_equal(ds.validation.get(np.array([0]))[1], [19])


def test_shd_missing_test_file_never_downloads(tmp_path):
    write_shd(tmp_path, {"shd_train.h5": SHD_FILES["shd_train.h5"]})
    with pytest.raises(data.DataNotFoundError, match="shd_train.h5 and shd_test.h5"):
        data.load({"name": "shd", "data_dir": str(tmp_path)})


def test_spikes_to_bins_counts_per_channel_and_drops_late_spikes():
    events = np.zeros(4, dtype=[("t", int), ("x", int), ("p", int)])
    events["t"] = [0, 250_000, 250_001, 1_000_000]  # microseconds
    events["x"] = [1, 2, 2, 3]
    frames = neuromorphic.spikes_to_bins(events, time_bins=4, channels=4)
    expected = np.zeros((4, 4), np.float32)
    expected[0, 1] = 1
    expected[1, 2] = 2
    np.testing.assert_array_equal(frames, expected)
