"""Event datasets through tonic, on tiny files written in tonic's own on-disk formats.

Skipped when tonic is not installed (``pip install tonic``; it needs no torch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

tonic = pytest.importorskip("tonic")

from snnjax import data  # noqa: E402
from snnjax.data import neuromorphic, search  # noqa: E402


@pytest.fixture(autouse=True)
def _no_env_data_dir(monkeypatch):
    monkeypatch.delenv(search.ENV_VAR, raising=False)


def nmnist_bytes(events: list[tuple[int, int, int, int]]) -> bytes:
    """N-MNIST's .bin format: 40 bits per event, x (8), y (8), polarity (1), timestamp (23, us)."""
    out = bytearray()
    for x, y, p, t in events:
        out += bytes([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF])
    return bytes(out)


# (x, y, polarity, timestamp) per recording; the first and last events span the time range.
NMNIST_FILES = {
    ("Train", 3, "00001.bin"): [(0, 0, 0, 0), (5, 10, 1, 1_000), (5, 10, 1, 1_500),
                                (33, 33, 0, 70_000), (20, 7, 1, 100_000)],
    ("Train", 7, "00002.bin"): [(1, 2, 1, 0), (2, 1, 0, 50_000), (3, 4, 1, 99_999)],
    ("Test", 5, "00003.bin"): [(9, 9, 1, 10), (9, 9, 1, 20), (10, 9, 0, 300_000)],
}


def write_nmnist(root: Path) -> None:
    for (folder, digit, name), events in NMNIST_FILES.items():
        directory = root / "NMNIST" / folder / str(digit)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(nmnist_bytes(events))


def test_nmnist_bin_fixture_through_tonic(tmp_path):
    write_nmnist(tmp_path)
    ds = data.load({"name": "nmnist", "data_dir": str(tmp_path), "time_bins": 4})
    assert (ds.input_shape, ds.num_classes, ds.task) == ((4, 34, 34, 2), 10, "classification")
    assert (ds.train.num_examples, ds.test.num_examples) == (2, 1)
    x, y = ds.train.get(np.array([0, 1]))
    assert x.shape == (2, 4, 34, 34, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [3, 7])
    first = x[0]
    assert first[0, 10, 5, 1] == 2  # two events at x=5, y=10, on, in the first quarter
    assert first[0, 0, 0, 0] == 1  # the earliest event: first bin
    assert first[2, 33, 33, 0] == 1  # t = 70 ms of 100 ms: third bin of four
    # Only the final event (t = t_end) may be missing: tonic's bins are half-open.
    assert first.sum() >= len(NMNIST_FILES[("Train", 3, "00001.bin")]) - 1
    x_test, y_test = ds.test.get(np.array([0]))
    np.testing.assert_array_equal(y_test, [5])
    assert x_test[0, 0, 9, 9, 1] == 2


def test_nmnist_found_under_env_subfolder_and_val_split(tmp_path, monkeypatch):
    write_nmnist(tmp_path / "nmnist")
    monkeypatch.setenv(search.ENV_VAR, str(tmp_path))
    ds = data.load({"name": "nmnist", "time_bins": 2, "val_fraction": 0.5})
    assert (ds.train.num_examples, ds.validation.num_examples) == (1, 1)
    np.testing.assert_array_equal(ds.validation.get(np.array([0]))[1], [7])


def test_nmnist_missing_test_folder_never_downloads(tmp_path):
    write_nmnist(tmp_path)
    for path in (tmp_path / "NMNIST" / "Test").rglob("*.bin"):
        path.unlink()
    with pytest.raises(data.DataNotFoundError, match="no .bin files"):
        data.load({"name": "nmnist", "data_dir": str(tmp_path)})


def test_dvs_gesture_npy_fixture_through_tonic(tmp_path):
    # tonic's preprocessed DVS-Gesture: <user>_<lighting>/<label>.npy, columns x, y, p, t (ms).
    for folder, user, label in (("ibmGestureTrain", "user01_led", 4),
                                ("ibmGestureTest", "user24_natural", 10)):
        directory = tmp_path / "DVSGesture" / folder / user
        directory.mkdir(parents=True)
        events = np.array([[1, 2, 1, 0], [127, 64, 0, 5], [1, 2, 1, 10]], np.int64)
        np.save(directory / f"{label}.npy", events)
    ds = data.load({"name": "dvs_gesture", "data_dir": str(tmp_path), "time_bins": 2})
    assert ds.input_shape == (2, 128, 128, 2) and ds.num_classes == 11
    x, y = ds.train.get(np.array([0]))
    np.testing.assert_array_equal(y, [4])
    assert x.shape == (1, 2, 128, 128, 2) and x.sum() >= 2
    assert x[0, 0, 2, 1, 1] == 1 and x[0, 1, 64, 127, 0] == 1  # t = 0 ms and 5 ms of 10 ms
    np.testing.assert_array_equal(ds.test.get(np.array([0]))[1], [10])


def test_events_to_frames_is_channels_last():
    dtype = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
    # x, y, t, p; sensor (W, H, P) = (4, 3, 2). tonic's time bins are [0, 5) and [5, 10) here,
    # so the final event (t = 10) falls outside them: it is there only to set the time span.
    events = np.array([(3, 1, 0, 0), (3, 1, 5, 1), (0, 2, 7, 1), (1, 1, 10, 0)], dtype)
    frames = neuromorphic.events_to_frames(events, (4, 3, 2), time_bins=2)
    assert frames.shape == (2, 3, 4, 2) and frames.dtype == np.float32
    expected = np.zeros((2, 3, 4, 2), np.float32)
    expected[0, 1, 3, 0] = 1
    expected[1, 1, 3, 1] = 1
    expected[1, 2, 0, 1] = 1
    frames[:, 1, 1, 0] = 0  # the final event, whichever way tonic bins it
    np.testing.assert_array_equal(frames, expected)
