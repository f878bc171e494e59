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
    # Bins of 25 ms from t0 = 0: the final event (t = t_end = 100 ms) is in none of them.
    assert first.sum() == len(NMNIST_FILES[("Train", 3, "00001.bin")]) - 1
    assert first[:, 7, 20, 1].sum() == 0
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
    assert x.shape == (1, 2, 128, 128, 2)
    assert x[0, 0, 2, 1, 1] == 1 and x[0, 1, 64, 127, 0] == 1  # t = 0 ms and 5 ms of 10 ms
    assert x.sum() == 2  # the final event (t = t_end) is in no bin
    np.testing.assert_array_equal(ds.test.get(np.array([0]))[1], [10])


def test_events_to_frames_is_channels_last_and_drops_the_end_of_the_recording():
    """The documented binning: ``w = (t_end - t0) // time_bins``, bin k holds
    ``t0 + k w <= t < t0 + (k + 1) w``, so events at the very end fall in no bin."""
    dtype = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
    # sensor (W, H, P) = (4, 3, 2); t0 = 2, t_end = 13: w = 11 // 2 = 5, bins [2, 7) and [7, 12).
    events = np.array([(3, 1, 2, 0),   # t0: bin 0
                       (3, 1, 6, 1),   # last tick of bin 0
                       (0, 2, 7, 1),   # first tick of bin 1
                       (2, 0, 11, 0),  # last tick of bin 1
                       (1, 1, 12, 0),  # t0 + 2w: in no bin (the floor in w leaves it out)
                       (1, 2, 13, 1)],  # t_end: in no bin
                      dtype)
    frames = neuromorphic.events_to_frames(events, (4, 3, 2), time_bins=2)
    assert frames.shape == (2, 3, 4, 2) and frames.dtype == np.float32
    expected = np.zeros((2, 3, 4, 2), np.float32)  # [T, H, W, P]: frames[t, y, x, p]
    expected[0, 1, 3, 0] = 1
    expected[0, 1, 3, 1] = 1
    expected[1, 2, 0, 1] = 1
    expected[1, 0, 2, 0] = 1
    np.testing.assert_array_equal(frames, expected)


# ----------------------------------------------------------------------------- the tonic override
# neuromorphic._offline overrides tonic's private ``_check_exists`` (and ``download``). These tests
# pin what that relies on, so that a tonic release that changes it fails here, not at a user's:
# tonic's ``__init__`` asks ``self._check_exists()``, calls ``self.download()`` when it says no,
# and then lists the files under ``location_on_system/folder_name``.

# One extracted (never downloaded) file per split, in tonic's layout, and the constructor keywords.
EXTRACTED = {
    "nmnist": [({"train": True}, "NMNIST/Train/3/00001.bin", 3), ({"train": False}, "NMNIST/Test/5/00002.bin", 5)],
    "dvs_gesture": [({"train": True}, "DVSGesture/ibmGestureTrain/user01_led/4.npy", 4),
                    ({"train": False}, "DVSGesture/ibmGestureTest/user24_natural/10.npy", 10)],
    "cifar10_dvs": [({}, "CIFAR10DVS/cat/cat_0001.aedat4", 3)],
}


def test_the_tonic_version_is_in_the_pinned_range():
    """pyproject.toml pins tonic to the releases whose private hooks these tests checked."""
    import re
    from importlib.metadata import version

    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    low, high = re.search(r'"tonic>=([\d.]+),<([\d.]+)"', pyproject).groups()
    as_tuple = lambda v: tuple(int(p) for p in re.findall(r"\d+", v)[:2])
    assert as_tuple(low) <= as_tuple(version("tonic")) < as_tuple(high)


def test_every_event_set_has_an_extracted_layout_here():
    assert set(EXTRACTED) == set(neuromorphic.EVENT_SETS)


@pytest.mark.parametrize("name", sorted(neuromorphic.EVENT_SETS))
def test_tonic_still_calls_the_overridden_hooks(name, tmp_path, monkeypatch):
    spec = neuromorphic.EVENT_SETS[name]
    tonic_cls = getattr(tonic.datasets, spec.tonic_class)
    assert "_check_exists" in vars(tonic_cls), f"tonic.datasets.{spec.tonic_class} no longer defines _check_exists"
    offline = neuromorphic._offline(tonic_cls, spec.file_suffix)
    assert offline.__name__ == tonic_cls.__name__  # tonic names the folder after the class

    # Nothing on disk: tonic asks _check_exists, gets no, and calls download, which raises.
    for kwargs, _, _ in EXTRACTED[name]:
        with pytest.raises(data.DataNotFoundError, match=f"no {spec.file_suffix} files"):
            offline(save_to=str(tmp_path), **kwargs)

    for _, relative, _ in EXTRACTED[name]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"")

    # tonic's own check wants the archive (and thousands of files), so it would download ...
    class Downloads(Exception):
        pass

    def refuse(self):
        raise Downloads

    monkeypatch.setattr(tonic_cls, "download", refuse)
    with pytest.raises(Downloads):
        tonic_cls(save_to=str(tmp_path), **EXTRACTED[name][0][0])

    # ... the override's check is the one tonic asks, once, and it finds the extracted files.
    asked = []

    def check_exists(self):
        asked.append(Path(self.location_on_system, self.folder_name))
        return offline._check_exists(self)

    spy = type(tonic_cls.__name__, (offline,), {"_check_exists": check_exists})
    for kwargs, relative, label in EXTRACTED[name]:
        asked.clear()
        events = spy(save_to=str(tmp_path), **kwargs)
        assert len(asked) == 1 and asked[0].is_relative_to(tmp_path / spec.tonic_class)
        assert [Path(p).resolve() for p in events.data] == [(tmp_path / relative).resolve()]
        assert list(events.targets) == [label]
